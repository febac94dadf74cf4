// Package kmodsign is gokmodsign: Ubuntu's kmodsign and the kernel's
// scripts/sign-file over pkg/modsig, plus signature verification and
// signing of whole module trees.
//
//	gokmodsign [-dpkD] [--append] HASH KEY X509 MODULE [DEST]
//	gokmodsign -s [--append] RAW-SIG HASH X509 MODULE [DEST]
//	gokmodsign [-dpkD] [-j N] HASH KEY X509 MODULE|DIR...
//	gokmodsign verify [--cert X509]... MODULE|DIR...
//
// With one module the arguments are sign-file's: DEST, when given and not
// the module itself, receives the signed module and the module is left
// alone. Several modules, a directory (walked for *.ko files) or --many
// sign every module in place, in parallel. Usage errors exit 2 as
// sign-file's do; any other failure exits 1.
package kmodsign
