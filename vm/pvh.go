package main

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// errNoPVH is returned when a kernel cannot be booted through PVH.
var errNoPVH = errors.New("no PVH entry point")

// pvhImage returns an uncompressed vmlinux extracted from the bzImage at
// image, kept in the cache next to it, when the kernel has a PVH entry
// point: QEMU then boots the ELF directly and skips the decompressor, about
// 2.5 s per boot under TCG. It returns image itself otherwise.
func pvhImage(image string, logw io.Writer) string {
	dir := filepath.Dir(image)
	out := filepath.Join(dir, "vmlinux")
	none := filepath.Join(dir, "vmlinux.none")
	if _, err := os.Stat(out); err == nil {
		return out
	}
	if _, err := os.Stat(none); err == nil {
		return image
	}
	vmlinux, err := extractVmlinux(image)
	if err == nil {
		err = checkPVH(vmlinux)
	}
	if err != nil {
		fmt.Fprintf(logw, "gokmod-vm: %s: booting the bzImage: %v\n", filepath.Base(dir), err)
		_ = os.WriteFile(none, []byte(err.Error()+"\n"), 0o644)
		return image
	}
	if err := writeFileAtomic(out, vmlinux, 0o644); err != nil {
		return image
	}
	return out
}

// extractVmlinux decompresses the payload of an x86 bzImage (boot protocol
// 2.08 or later: payload_offset and payload_length in the setup header).
func extractVmlinux(image string) ([]byte, error) {
	b, err := os.ReadFile(image)
	if err != nil {
		return nil, err
	}
	if len(b) < 0x250 || string(b[0x202:0x206]) != "HdrS" {
		return nil, errors.New("not a bzImage")
	}
	setup := int(b[0x1f1])
	if setup == 0 {
		setup = 4
	}
	off := (setup+1)*512 + int(binary.LittleEndian.Uint32(b[0x248:]))
	n := int(binary.LittleEndian.Uint32(b[0x24c:]))
	if off < 0 || n < 8 || off+n > len(b) {
		return nil, errors.New("bzImage payload out of range")
	}
	payload := b[off : off+n]
	var tool string
	switch {
	case bytes.HasPrefix(payload, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(bytes.NewReader(payload))
		if err != nil {
			return nil, err
		}
		zr.Multistream(false)
		return io.ReadAll(zr)
	case bytes.HasPrefix(payload, []byte("\xfd7zXZ\x00")):
		tool = "xz"
	case bytes.HasPrefix(payload, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		tool = "zstd"
	default:
		return nil, fmt.Errorf("payload compression % x not handled", payload[:4])
	}
	// The kernel build appends the uncompressed size (4 bytes) to xz and
	// zstd payloads; the decompressors would call it trailing garbage.
	cmd := exec.Command(tool, "-d", "-c")
	cmd.Stdin = bytes.NewReader(payload[:len(payload)-4])
	var stderr tailBuffer
	cmd.Stderr = &stderr
	vmlinux, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s -d: %w %s", tool, err, stderr.String())
	}
	return vmlinux, nil
}

// checkPVH looks for the Xen PHYS32_ENTRY note QEMU uses to boot an ELF
// kernel through PVH.
func checkPVH(vmlinux []byte) error {
	f, err := elf.NewFile(bytes.NewReader(vmlinux))
	if err != nil {
		return fmt.Errorf("vmlinux: %w", err)
	}
	const xenElfnotePhys32Entry = 18
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		notes, err := io.ReadAll(p.Open())
		if err != nil {
			return err
		}
		for len(notes) >= 12 {
			namesz := int(binary.LittleEndian.Uint32(notes[0:]))
			descsz := int(binary.LittleEndian.Uint32(notes[4:]))
			typ := binary.LittleEndian.Uint32(notes[8:])
			nameEnd := 12 + (namesz+3)&^3
			end := nameEnd + (descsz+3)&^3
			if namesz < 0 || descsz < 0 || end > len(notes) {
				break
			}
			if typ == xenElfnotePhys32Entry && bytes.HasPrefix(notes[12:12+namesz], []byte("Xen")) {
				return nil
			}
			notes = notes[end:]
		}
	}
	return errNoPVH
}
