package xzdec

import "fmt"

const (
	probInit     = 1 << 10
	numStates    = 12
	posStatesMax = 1 << 4
	lenLowBits   = 3
	lenMidBits   = 3
	lenHighBits  = 8
	endPosModel  = 14
	fullDists    = 1 << (endPosModel >> 1)
	alignBits    = 4
	distStates   = 4
	literalSize  = 0x300
)

type lenCoder struct {
	choice  uint16
	choice2 uint16
	low     [posStatesMax][1 << lenLowBits]uint16
	mid     [posStatesMax][1 << lenMidBits]uint16
	high    [1 << lenHighBits]uint16
}

// decoder holds LZMA's adaptive state across the chunks of an LZMA2
// stream.
type decoder struct {
	lc, lp, pb uint
	state      uint
	rep        [4]uint32
	literal    []uint16

	isMatch    [numStates][posStatesMax]uint16
	isRep      [numStates]uint16
	isRepG0    [numStates]uint16
	isRepG1    [numStates]uint16
	isRepG2    [numStates]uint16
	isRep0Long [numStates][posStatesMax]uint16
	posSlot    [distStates][1 << 6]uint16
	posSpec    [1 + fullDists - endPosModel]uint16
	align      [1 << alignBits]uint16
	matchLen   lenCoder
	repLen     lenCoder

	buf []byte // the current chunk and slack zeros
}

// slack is more than one symbol can read: each bit reads at most one byte.
const slack = 256

func fill(p []uint16) {
	for i := range p {
		p[i] = probInit
	}
}

func (l *lenCoder) reset() {
	l.choice, l.choice2 = probInit, probInit
	for i := range l.low {
		fill(l.low[i][:])
		fill(l.mid[i][:])
	}
	fill(l.high[:])
}

func (d *decoder) resetState() {
	d.state = 0
	d.rep = [4]uint32{}
	n := literalSize << (d.lc + d.lp)
	if cap(d.literal) < n {
		d.literal = make([]uint16, n)
	}
	d.literal = d.literal[:n]
	fill(d.literal)
	for i := range d.isMatch {
		fill(d.isMatch[i][:])
		fill(d.isRep0Long[i][:])
	}
	fill(d.isRep[:])
	fill(d.isRepG0[:])
	fill(d.isRepG1[:])
	fill(d.isRepG2[:])
	for i := range d.posSlot {
		fill(d.posSlot[i][:])
	}
	fill(d.posSpec[:])
	fill(d.align[:])
	d.matchLen.reset()
	d.repLen.reset()
}

// lzma2 decodes one block's LZMA2 chunks from data[p:], appending to out,
// and returns where the chunks ended.
func (d *decoder) lzma2(out, data []byte, p int, total uint64) ([]byte, int, error) {
	dictStart := len(out)
	needDictReset, needProps := true, true
	for {
		if p >= len(data) {
			return nil, 0, corrupt("truncated LZMA2")
		}
		ctl := data[p]
		p++
		switch {
		case ctl == 0:
			return out, p, nil
		case ctl == 1 || ctl == 2:
			if p+2 > len(data) {
				return nil, 0, corrupt("truncated LZMA2")
			}
			if ctl == 1 {
				dictStart, needDictReset = len(out), false
			} else if needDictReset {
				return nil, 0, corrupt("LZMA2 without dictionary reset")
			}
			n := int(data[p])<<8 | int(data[p+1]) + 1
			p += 2
			if p+n > len(data) {
				return nil, 0, corrupt("truncated LZMA2")
			}
			if uint64(len(out)+n) > total {
				return nil, 0, corrupt("LZMA2 past the indexed size")
			}
			out = append(out, data[p:p+n]...)
			p += n
		case ctl >= 0x80:
			if p+4 > len(data) {
				return nil, 0, corrupt("truncated LZMA2")
			}
			usize := int(ctl&0x1f)<<16 | int(data[p])<<8 | int(data[p+1]) + 1
			csize := int(data[p+2])<<8 | int(data[p+3]) + 1
			p += 4
			reset := (ctl >> 5) & 3
			if reset == 3 {
				dictStart, needDictReset = len(out), false
			} else if needDictReset {
				return nil, 0, corrupt("LZMA2 without dictionary reset")
			}
			if reset >= 2 {
				if p >= len(data) {
					return nil, 0, corrupt("truncated LZMA2")
				}
				props := uint(data[p])
				p++
				if props >= 9*5*5 {
					return nil, 0, corrupt("LZMA properties")
				}
				d.lc, props = props%9, props/9
				d.lp, d.pb = props%5, props/5
				if d.lc+d.lp > 4 {
					return nil, 0, corrupt("LZMA properties")
				}
				needProps = false
			} else if needProps {
				return nil, 0, corrupt("LZMA2 without properties")
			}
			if reset >= 1 {
				d.resetState()
			}
			if p+csize > len(data) {
				return nil, 0, corrupt("truncated LZMA2")
			}
			if uint64(len(out)+usize) > total {
				return nil, 0, corrupt("LZMA2 past the indexed size")
			}
			var err error
			out, err = d.chunk(out, data[p:p+csize], dictStart, len(out)+usize)
			if err != nil {
				return nil, 0, err
			}
			p += csize
		default:
			return nil, 0, corrupt("LZMA2 control byte %#x", ctl)
		}
	}
}

// rc is the range decoder. It normalises before each bit (and once at
// the chunk's end), so that bit is small enough to inline. Its input is a
// copy of the chunk followed by slack zeros: one symbol reads far fewer
// than slack bytes, and chunk checks after each symbol that the chunk's
// bytes are not overrun, and at the end that exactly they were used.
type rc struct {
	rng, code uint32
	ip        int
	in        []byte
}

func (r *rc) normalize() {
	r.rng <<= 8
	r.code = r.code<<8 | uint32(r.in[r.ip])
	r.ip++
}

func (r *rc) bit(p *uint16) uint32 {
	if r.rng < 1<<24 {
		r.normalize()
	}
	bound := (r.rng >> 11) * uint32(*p)
	if r.code < bound {
		r.rng = bound
		*p += (1<<11 - *p) >> 5
		return 0
	}
	r.rng -= bound
	r.code -= bound
	*p -= *p >> 5
	return 1
}

func (r *rc) tree(probs []uint16, bits uint) uint32 {
	m := uint32(1)
	for i := uint(0); i < bits; i++ {
		m = m<<1 | r.bit(&probs[m])
	}
	return m - 1<<bits
}

func (r *rc) reverse(probs []uint16, bits uint) uint32 {
	m, sym := uint32(1), uint32(0)
	for i := uint(0); i < bits; i++ {
		b := r.bit(&probs[m])
		m = m<<1 | b
		sym |= b << i
	}
	return sym
}

func (r *rc) direct(bits uint) uint32 {
	var v uint32
	for ; bits > 0; bits-- {
		if r.rng < 1<<24 {
			r.normalize()
		}
		r.rng >>= 1
		t := uint32(0)
		if r.code >= r.rng {
			r.code -= r.rng
			t = 1
		}
		v = v<<1 | t
	}
	return v
}

func (r *rc) length(l *lenCoder, posState uint32) uint32 {
	if r.bit(&l.choice) == 0 {
		return r.tree(l.low[posState][:], lenLowBits)
	}
	if r.bit(&l.choice2) == 0 {
		return 8 + r.tree(l.mid[posState][:], lenMidBits)
	}
	return 16 + r.tree(l.high[:], lenHighBits)
}

// chunk decodes one LZMA chunk until out holds end bytes.
func (d *decoder) chunk(out, in []byte, dictStart, end int) ([]byte, error) {
	if len(in) < 5 || in[0] != 0 {
		return nil, corrupt("LZMA chunk start")
	}
	d.buf = append(append(d.buf[:0], in...), make([]byte, slack)...)
	r := &rc{rng: 0xffffffff, code: uint32(in[1])<<24 | uint32(in[2])<<16 | uint32(in[3])<<8 | uint32(in[4]), ip: 5, in: d.buf}
	pbMask := uint32(1)<<d.pb - 1
	lpMask := uint32(1)<<d.lp - 1
	for len(out) < end {
		if r.ip > len(in) {
			return nil, corrupt("LZMA chunk overrun")
		}
		pos := uint32(len(out) - dictStart)
		posState := pos & pbMask
		if r.bit(&d.isMatch[d.state][posState]) == 0 {
			prev := uint32(0)
			if pos > 0 {
				prev = uint32(out[len(out)-1])
			}
			probs := d.literal[literalSize*((pos&lpMask)<<d.lc+prev>>(8-d.lc)):][:literalSize]
			sym := uint32(1)
			if d.state >= 7 {
				back := int(d.rep[0]) + 1
				if back > int(pos) {
					return nil, corrupt("literal match byte before the dictionary")
				}
				match := uint32(out[len(out)-back])
				rng, code, ip, in := r.rng, r.code, r.ip, r.in
				for sym < 0x100 {
					mb := (match >> 7) & 1
					match <<= 1
					if rng < 1<<24 {
						rng <<= 8
						code = code<<8 | uint32(in[ip])
						ip++
					}
					p := &probs[0x100+mb<<8+sym]
					bound := (rng >> 11) * uint32(*p)
					var b uint32
					if code < bound {
						rng = bound
						*p += (1<<11 - *p) >> 5
					} else {
						rng -= bound
						code -= bound
						*p -= *p >> 5
						b = 1
					}
					sym = sym<<1 | b
					if mb != b {
						break
					}
				}
				r.rng, r.code, r.ip = rng, code, ip
			}
			// The plain literal loop is the hottest: run it on locals.
			rng, code, ip, in := r.rng, r.code, r.ip, r.in
			probs = probs[:0x100]
			for sym < 0x100 {
				if rng < 1<<24 {
					rng <<= 8
					code = code<<8 | uint32(in[ip])
					ip++
				}
				p := &probs[sym&0xff]
				bound := (rng >> 11) * uint32(*p)
				if code < bound {
					rng = bound
					*p += (1<<11 - *p) >> 5
					sym <<= 1
				} else {
					rng -= bound
					code -= bound
					*p -= *p >> 5
					sym = sym<<1 | 1
				}
			}
			r.rng, r.code, r.ip = rng, code, ip
			out = append(out, byte(sym))
			switch {
			case d.state < 4:
				d.state = 0
			case d.state < 10:
				d.state -= 3
			default:
				d.state -= 6
			}
			continue
		}
		var n uint32
		if r.bit(&d.isRep[d.state]) == 0 {
			n = r.length(&d.matchLen, posState)
			if d.state < 7 {
				d.state = 7
			} else {
				d.state = 10
			}
			dist, err := d.distance(r, n)
			if err != nil {
				return nil, err
			}
			d.rep[3], d.rep[2], d.rep[1], d.rep[0] = d.rep[2], d.rep[1], d.rep[0], dist
		} else {
			if r.bit(&d.isRepG0[d.state]) == 0 {
				if r.bit(&d.isRep0Long[d.state][posState]) == 0 {
					if d.state < 7 {
						d.state = 9
					} else {
						d.state = 11
					}
					back := int(d.rep[0]) + 1
					if back > int(pos) {
						return nil, corrupt("short rep before the dictionary")
					}
					out = append(out, out[len(out)-back])
					continue
				}
			} else {
				var dist uint32
				if r.bit(&d.isRepG1[d.state]) == 0 {
					dist = d.rep[1]
				} else {
					if r.bit(&d.isRepG2[d.state]) == 0 {
						dist = d.rep[2]
					} else {
						dist = d.rep[3]
						d.rep[3] = d.rep[2]
					}
					d.rep[2] = d.rep[1]
				}
				d.rep[1] = d.rep[0]
				d.rep[0] = dist
			}
			n = r.length(&d.repLen, posState)
			if d.state < 7 {
				d.state = 8
			} else {
				d.state = 11
			}
		}
		length := int(n) + 2
		back := int(d.rep[0]) + 1
		if back > int(pos) {
			return nil, corrupt("match before the dictionary")
		}
		if len(out)+length > end {
			return nil, fmt.Errorf("match across an LZMA2 chunk: %w", ErrUnsupported)
		}
		src := len(out) - back
		if back >= length {
			out = append(out, out[src:src+length]...)
		} else {
			for i := 0; i < length; i++ {
				out = append(out, out[src+i])
			}
		}
	}
	if r.rng < 1<<24 {
		r.normalize()
	}
	if r.ip != len(in) || r.code != 0 {
		return nil, corrupt("LZMA chunk size")
	}
	return out, nil
}

// distance decodes a match's distance, for a match of length n+2.
func (d *decoder) distance(r *rc, n uint32) (uint32, error) {
	lenState := n
	if lenState > distStates-1 {
		lenState = distStates - 1
	}
	slot := r.tree(d.posSlot[lenState][:], 6)
	if slot < 4 {
		return slot, nil
	}
	bits := uint(slot>>1) - 1
	dist := (2 | slot&1) << bits
	if slot < endPosModel {
		return dist + r.reverse(d.posSpec[dist-slot:], bits), nil
	}
	dist += r.direct(bits-alignBits) << alignBits
	dist += r.reverse(d.align[:], alignBits)
	if dist == 0xffffffff {
		return 0, corrupt("end marker in LZMA2")
	}
	return dist, nil
}
