// Package modsig reads, builds and checks the signature the Linux kernel
// expects at the end of a module file.
//
// A signed module is the module image followed by a signature blob, a
// 12-byte struct module_signature and the 28-byte magic
// "~Module signature appended~\n":
//
//	[ module content          ]
//	[ signer's name           ]  (old PGP/X509 id types only)
//	[ key identifier          ]  (old PGP/X509 id types only)
//	[ signature blob          ]  (PKCS#7 SignedData DER for id type 2)
//	[ struct module_signature ]  algo, hash, id_type, signer_len, key_id_len, 3 pad, sig_len (big endian)
//	[ "~Module signature appended~\n" ]
//
// Split takes such an image apart and describes the signature the way
// kmod's modinfo does (signer, sig_key, sig_hashalgo, signature).
// SignedData and Block build the kernel's format around a signature value,
// a detached PKCS#7 SignedData without certificates or signed attributes,
// as scripts/sign-file does.
//
// This package is the format only: it needs no crypto beyond crypto.Hash
// constants, so that programs which only read signatures do not link
// crypto/x509, net, RSA or ECDSA. Making and checking signature values
// with keys and certificates is package cms (pkg/modsig/cms).
package modsig
