// Package cms is the cryptographic half of module signatures: it makes the
// signature value with a private key and checks one against X.509
// certificates. The format half, parsing the trailer and the PKCS#7
// (CMS) SignedData and building its DER, is package modsig, which needs
// no crypto beyond crypto.Hash constants, so that a program that only reads
// signatures (gomodinfo) does not link or initialise crypto/x509, net,
// RSA or ECDSA.
//
// NewSigner checks a key and certificate against each other and against
// what the kernel verifies; Signer.Sign returns the block sign-file
// appends; Verify checks an appended signature as the kernel does.
package cms
