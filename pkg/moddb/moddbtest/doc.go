// Package moddbtest finds what the differential tests compare against:
// kmod 30's tools and Debian's installed 6.1 module tree (with the indexes
// Debian's depmod wrote). When either is missing, the test is skipped with
// the package that brings it.
package moddbtest
