package signing

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gokmod/gokmod/pkg/compression"
	"github.com/gokmod/gokmod/pkg/kernel"
	"github.com/gokmod/gokmod/pkg/modfile"
	"github.com/gokmod/gokmod/pkg/modsig"
	"github.com/gokmod/gokmod/pkg/modsig/cms"
)

// Output says what File writes.
type Output int

const (
	// Signed writes the signed module (sign-file's default).
	Signed Output = iota
	// SignedAndPKCS7 also writes the PKCS#7 signature to <module>.p7s (-p).
	SignedAndPKCS7
	// PKCS7Only writes only <module>.p7s (-d).
	PKCS7Only
	// Detached writes only the block that would be appended: PKCS#7
	// signature, struct module_signature and magic (kmodsign -D), to Dest
	// or <module>.sig.
	Detached
)

// Options say how File signs.
type Options struct {
	// Signer makes the signature. Leave it nil to append RawSig instead.
	Signer *cms.Signer
	// RawSig is a PKCS#7 signature made elsewhere (sign-file -s); it must
	// verify over the module's content with Cert.
	RawSig []byte
	Cert   *x509.Certificate
	// Dest is where the signed module (or, with Detached, the block) goes;
	// "" means in place (or <module>.sig).
	Dest   string
	Output Output
	// Append keeps an existing signature and signs the module with it,
	// leaving two trailers; by default the old one is replaced.
	Append bool
}

// Result is what File did.
type Result struct {
	Path     string   // the module
	Replaced bool     // the module written carries a new signature in place of its old one
	Wrote    []string // the files written, in order
	Err      error    // for Tree: why this module was not signed
}

// File signs the module at path as opts say. On error nothing has been
// written. (With SignedAndPKCS7, an error writing the module after the
// .p7s leaves the .p7s, as sign-file does.)
func File(path string, opts Options) (Result, error) {
	return signFile(path, opts, nil)
}

// buffers recycles module images: a tree of thousands of modules would
// otherwise allocate, clear and free hundreds of megabytes.
var buffers sync.Pool

func readModule(path string) (data []byte, mode fs.FileMode, release func(), err error) {
	f, _, err := kernel.OpenRegular(path)
	if err != nil {
		return nil, 0, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, nil, err
	}
	if fi.Size() > modfile.MaxSize {
		return nil, 0, nil, fmt.Errorf("%s: %d bytes: %w", path, fi.Size(), compression.ErrTooLarge)
	}
	size := int(fi.Size())
	bp, _ := buffers.Get().(*[]byte)
	if bp == nil || cap(*bp) < size {
		b := make([]byte, size)
		bp = &b
	}
	data = (*bp)[:size]
	if _, err := io.ReadFull(f, data); err != nil {
		buffers.Put(bp)
		return nil, 0, nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, fi.Mode().Perm(), func() { buffers.Put(bp) }, nil
}

func signFile(path string, opts Options, ds *dirSyncer) (Result, error) {
	res := Result{Path: path}
	if (opts.Signer == nil) == (opts.RawSig == nil) {
		return res, fmt.Errorf("%w: give a Signer or a raw signature", ErrOptions)
	}
	if opts.RawSig != nil && opts.Output != Signed && opts.Output != Detached {
		return res, fmt.Errorf("%w: a raw signature is only appended", ErrOptions)
	}
	image, mode, release, err := readModule(path)
	if err != nil {
		return res, err
	}
	defer release()
	content, replaced, err := prepare(image, opts.Append)
	if err != nil {
		return res, fmt.Errorf("%s: %w", path, err)
	}

	var p7 []byte
	if opts.Signer != nil {
		if p7, err = opts.Signer.PKCS7(content); err != nil {
			return res, fmt.Errorf("%s: %w", path, err)
		}
	} else {
		if err := checkRaw(content, opts.RawSig, opts.Cert); err != nil {
			return res, fmt.Errorf("%s: %w", path, err)
		}
		p7 = opts.RawSig
	}

	write := func(dst string, mode fs.FileMode, chunks ...[]byte) error {
		if err := writeFile(dst, mode, ds, chunks...); err != nil {
			return err
		}
		res.Wrote = append(res.Wrote, dst)
		return nil
	}
	block := modsig.Block(p7)
	switch opts.Output {
	case PKCS7Only:
		return res, write(path+".p7s", 0o644, p7)
	case Detached:
		dst := opts.Dest
		if dst == "" {
			dst = path + ".sig"
		}
		return res, write(dst, 0o644, block)
	case SignedAndPKCS7:
		if err := write(path+".p7s", 0o644, p7); err != nil {
			return res, err
		}
	}
	dst := opts.Dest
	if dst == "" {
		dst = path
	}
	if err := write(dst, mode, content, block); err != nil {
		return res, err
	}
	res.Replaced = replaced
	return res, nil
}

// prepare checks the module and returns the content to sign: without its
// signature, unless keep.
func prepare(image []byte, keep bool) (content []byte, replaced bool, err error) {
	if f := compression.Detect(image); f != compression.None {
		return nil, false, fmt.Errorf("%w (%s)", ErrCompressed, f)
	}
	content, sig, err := modsig.Split(image)
	if err != nil {
		return nil, false, fmt.Errorf("existing signature: %w", err)
	}
	if keep {
		content = image
	}
	f, err := modfile.NewFileBytes(content)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrNotModule, err)
	}
	if _, ok := f.Section(".modinfo"); !ok {
		return nil, false, fmt.Errorf("%w: %w", ErrNotModule, modfile.ErrNotModule)
	}
	return content, sig != nil && !keep, nil
}

// checkRaw makes sure a raw signature is a PKCS#7 message that verifies
// over content with cert, so that no module is written with a signature
// that cannot work.
func checkRaw(content, raw []byte, cert *x509.Certificate) error {
	if cert == nil {
		return fmt.Errorf("%w: no certificate to check it with", ErrRawSignature)
	}
	image := append(bytes.Clone(content), modsig.Block(raw)...)
	if _, _, err := cms.Verify(image, []*x509.Certificate{cert}); err != nil {
		return fmt.Errorf("%w: %w", ErrRawSignature, err)
	}
	return nil
}

// compressedSuffixes are the names of compressed modules that kmod and
// the kernel's build use.
var compressedSuffixes = []string{".ko.xz", ".ko.zst", ".ko.gz", ".ko.lz4"}

// Modules expands paths into module files: files as given, directories
// walked recursively, in lexical order. Walked "*.ko" files are returned
// in modules; walked compressed modules ("*.ko.xz", "*.ko.zst", "*.ko.gz",
// "*.ko.lz4"), which cannot be signed as they are, in compressed.
func Modules(paths []string) (modules, compressed []string, err error) {
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, nil, err
		}
		if !fi.IsDir() {
			modules = append(modules, p)
			continue
		}
		var found, foundZ []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			if strings.HasSuffix(path, ".ko") {
				found = append(found, path)
			}
			for _, z := range compressedSuffixes {
				if strings.HasSuffix(path, z) {
					foundZ = append(foundZ, path)
				}
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		sort.Strings(found)
		sort.Strings(foundZ)
		modules = append(modules, found...)
		compressed = append(compressed, foundZ...)
	}
	return modules, compressed, nil
}

// Tree signs every module in place with opts (Dest must be empty), jobs at
// a time (0 means four per CPU: each module waits on its fsync about as
// long as it takes to sign). progress, if not nil, is called after each
// module with the number done so far; it may be called concurrently. The
// results are in the order of modules.
func Tree(modules []string, opts Options, jobs int, progress func(done int)) []Result {
	return TreeContext(context.Background(), modules, opts, jobs, progress)
}

// TreeContext is Tree that stops when ctx is done: the modules being
// signed are finished (each is written whole or not at all), no other is
// started, and their results carry an error wrapping ErrInterrupted.
func TreeContext(ctx context.Context, modules []string, opts Options, jobs int, progress func(done int)) []Result {
	if jobs <= 0 {
		jobs = 4 * runtime.GOMAXPROCS(0)
	}
	results := make([]Result, len(modules))
	if opts.Dest != "" {
		for i, m := range modules {
			results[i] = Result{Path: m, Err: fmt.Errorf("%w: a destination with several modules", ErrOptions)}
		}
		return results
	}
	ds := &dirSyncer{dirs: map[string]bool{}, later: true}
	defer ds.flush()
	var next, done atomic.Int64
	var wg sync.WaitGroup
	for range min(jobs, len(modules)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(modules) {
					return
				}
				if err := ctx.Err(); err != nil {
					results[i] = Result{Path: modules[i], Err: fmt.Errorf("%s: %w: %w", modules[i], ErrInterrupted, context.Cause(ctx))}
					continue
				}
				res, err := signFile(modules[i], opts, ds)
				res.Err = err
				results[i] = res
				if progress != nil {
					progress(int(done.Add(1)))
				}
			}
		}()
	}
	wg.Wait()
	return results
}

// Interrupted counts the results of modules that TreeContext did not start.
func Interrupted(results []Result) int {
	n := 0
	for _, r := range results {
		if errors.Is(r.Err, ErrInterrupted) {
			n++
		}
	}
	return n
}

// Dirs returns the directories that paths are in, each once, for Clean.
func Dirs(paths ...string) []string {
	var dirs []string
	seen := map[string]bool{}
	for _, p := range paths {
		if p == "" {
			continue
		}
		d := filepath.Dir(p)
		if !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// Failed counts the results with an error.
func Failed(results []Result) int {
	n := 0
	for _, r := range results {
		if r.Err != nil {
			n++
		}
	}
	return n
}
