// Package modsigtest crafts module signatures for tests: PKCS#7
// SignedData messages with every field open to change (versions, signer
// identifier form, digest and signature algorithm OIDs, signed attributes,
// embedded content and certificates, several signers, corrupt values) and
// the struct module_signature trailer with any field set. The kernel
// differential test (tests/verify_kernel_test.go) and the unit tests of
// package cms build their corpora with it.
package modsigtest
