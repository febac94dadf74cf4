// Package compression recognises the compressed forms a kernel module is
// shipped in (gzip, xz, zstd and lz4 frames) by their magic bytes, never by
// file name, and decompresses them with a cap on the output size, so that a
// small hostile file cannot make a reader allocate without bound.
package compression
