package depmod

import "sort"

// kmod keeps modules and symbols in hash tables (shared/hash.c) and writes
// modules.symbols, and orders modules that modules.order does not list, in
// the tables' iteration order: bucket by bucket, and within a bucket by
// strcmp. The bucket is Paul Hsieh's SuperFastHash of the key, as kmod
// computes it on x86 (16-bit loads little-endian, char signed), masked to
// the table size. kmodOrder sorts keys into that order.

const (
	moduleBuckets = 512  // depmod's modules_by_name table
	symbolBuckets = 2048 // depmod's symbols table
)

func superFastHash(key string) uint32 {
	n := len(key)
	h := uint32(n)
	rem := n & 3
	le16 := func(i int) uint32 { return uint32(key[i]) | uint32(key[i+1])<<8 }
	sc := func(i int) uint32 { return uint32(int32(int8(key[i]))) }
	i := 0
	for k := n / 4; k > 0; k-- {
		h += le16(i)
		tmp := (le16(i+2) << 11) ^ h
		h = (h << 16) ^ tmp
		i += 4
		h += h >> 11
	}
	switch rem {
	case 3:
		h += le16(i)
		h ^= h << 16
		h ^= sc(i+2) << 18
		h += h >> 11
	case 2:
		h += le16(i)
		h ^= h << 11
		h += h >> 17
	case 1:
		h += sc(i)
		h ^= h << 10
		h += h >> 1
	}
	h ^= h << 3
	h += h >> 5
	h ^= h << 4
	h += h >> 17
	h ^= h << 25
	h += h >> 6
	return h
}

// kmodOrder sorts keys as a kmod hash table of nbuckets iterates them.
func kmodOrder(keys []string, nbuckets uint32) {
	bucket := make(map[string]uint32, len(keys))
	for _, k := range keys {
		bucket[k] = superFastHash(k) & (nbuckets - 1)
	}
	sort.Slice(keys, func(i, j int) bool {
		bi, bj := bucket[keys[i]], bucket[keys[j]]
		if bi != bj {
			return bi < bj
		}
		return keys[i] < keys[j]
	})
}
