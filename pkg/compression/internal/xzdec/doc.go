// Package xzdec decodes the .xz files the kernel's build makes of modules
// (one or more blocks, each a single LZMA2 filter; check CRC32, CRC64,
// SHA-256 or none) into one buffer, about twice as fast as a streaming
// decoder: the whole output is the LZMA dictionary, so a match is a copy
// within the buffer, and the size comes from the stream's index. Anything
// else (other filters, concatenated streams, a match crossing a chunk) is
// ErrUnsupported, for the caller to hand to a general decoder; a corrupt
// file is ErrCorrupt. Output is only returned when the stream's check
// matches it.
package xzdec
