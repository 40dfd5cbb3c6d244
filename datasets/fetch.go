package datasets

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"

	"tlkit/atomicfile"
)

// FetchOptions configures Fetch. The zero value downloads from the official mirrors.
type FetchOptions struct {
	// BaseURL, when set, replaces the mirrors: each file is fetched from BaseURL + "/" + its name.
	BaseURL string
	// Client makes the requests; default http.DefaultClient.
	Client *http.Client
	// Start, when set, is called before each download with the URL and its size (-1 if unknown).
	Start func(url string, total int64)
	// Progress, when set, is called as bytes of the current file arrive (total -1 if unknown).
	Progress func(done, total int64)
}

// remoteFile is one file of a dataset: its name on the mirrors and its md5 (from torchvision).
type remoteFile struct {
	name, md5 string
}

// remoteSet describes how a dataset is downloaded: from which mirrors, into which folder under
// the data root, and for archives which extracted files (with md5, "" if unknown) show it is done.
type remoteSet struct {
	mirrors []string
	files   []remoteFile
	subdir  string       // folder under the data root for plain files; "" for archives
	archive bool         // files are .tar.gz archives extracted into the data root
	result  []remoteFile // for archives: paths relative to the data root that extraction yields
}

// remoteSets are the downloads as torchvision (datasets/mnist.py, cifar.py) defines them.
var remoteSets = map[string]remoteSet{
	"mnist": {
		mirrors: []string{"http://yann.lecun.com/exdb/mnist/", "https://ossci-datasets.s3.amazonaws.com/mnist/"},
		files: []remoteFile{
			{"train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"},
			{"train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"},
			{"t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"},
			{"t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"},
		},
		subdir: "mnist",
	},
	"fashion-mnist": {
		mirrors: []string{"http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"},
		files: []remoteFile{
			{"train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"},
			{"train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"},
			{"t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"},
			{"t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"},
		},
		subdir: "fashion-mnist",
	},
	"cifar100": {
		mirrors: []string{"https://www.cs.toronto.edu/~kriz/"},
		files:   []remoteFile{{"cifar-100-binary.tar.gz", "03b5dce01913d631647c71ecec9e9cb8"}},
		archive: true,
		result: []remoteFile{{"cifar-100-binary/train.bin", ""}, {"cifar-100-binary/test.bin", ""},
			{"cifar-100-binary/fine_label_names.txt", ""}, {"cifar-100-binary/coarse_label_names.txt", ""}},
	},
	"cifar100-python": {
		mirrors: []string{"https://www.cs.toronto.edu/~kriz/"},
		files:   []remoteFile{{"cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85"}},
		archive: true,
		result: []remoteFile{{"cifar-100-python/train", "16019d7e3df5f24257cddd939b257f8d"},
			{"cifar-100-python/test", "f0ef6b0ae62326f3e7ffdfab6717acfc"},
			{"cifar-100-python/meta", "7973b15100ade9c7d40fb424638fde48"}},
	},
}

// Fetch downloads dataset name (mnist, fashion-mnist, cifar100 for the binary CIFAR-100 archive,
// or cifar100-python) into dataDir in the layout Open reads, verifying each file's md5. Files
// already present with the right md5 are not downloaded again; archives are kept next to what
// they extract to.
func Fetch(ctx context.Context, name, dataDir string, o FetchOptions) (err error) {
	key := strings.ToLower(name)
	if key != "cifar100-python" {
		var err error
		if key, err = canonicalName(name); err != nil {
			return fmt.Errorf("%w (or cifar100-python to fetch CIFAR-100's python version)", err)
		}
		if key == "cifar100-coarse" {
			key = "cifar100" // the same archive
		}
	}
	set := remoteSets[key]
	if o.Client == nil {
		o.Client = http.DefaultClient
	}
	mirrors := set.mirrors
	if o.BaseURL != "" {
		mirrors = []string{strings.TrimSuffix(o.BaseURL, "/") + "/"}
	}
	dir := filepath.Join(dataDir, set.subdir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(dir) // a failed fetch leaves no empty folder behind (Remove keeps a non-empty one)
		}
	}()
	if set.archive && extracted(dataDir, set.result) {
		return nil
	}
	for _, f := range set.files {
		dest := filepath.Join(dir, f.name)
		if ok, err := hasMD5(dest, f.md5); err != nil {
			return err
		} else if !ok {
			var errs []error
			for _, m := range mirrors {
				err := download(ctx, o, m+f.name, dest, f.md5)
				if err == nil {
					errs = nil
					break
				}
				errs = append(errs, err)
				if ctx.Err() != nil {
					break
				}
			}
			if len(errs) > 0 {
				return fmt.Errorf("fetching %s: %w", name, errors.Join(errs...))
			}
		}
		if set.archive {
			if err := extractTarGz(dest, dataDir); err != nil {
				return err
			}
			if !extracted(dataDir, set.result) {
				return fmt.Errorf("%s: the archive did not yield the expected files %s", dest, resultNames(set.result))
			}
		}
	}
	return nil
}

func resultNames(fs []remoteFile) string {
	var names []string
	for _, f := range fs {
		names = append(names, f.name)
	}
	return strings.Join(names, ", ")
}

// extracted reports whether every file of fs exists under root (with its md5 where known).
func extracted(root string, fs []remoteFile) bool {
	for _, f := range fs {
		p := filepath.Join(root, filepath.FromSlash(f.name))
		if !exists(p) {
			return false
		}
		if f.md5 != "" {
			if ok, _ := hasMD5(p, f.md5); !ok {
				return false
			}
		}
	}
	return true
}

// hasMD5 reports whether the file at p exists with the given md5; a missing file is no error.
func hasMD5(p, want string) (bool, error) {
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	h := md5.New()
	if _, err := io.Copy(h, f); err != nil {
		return false, fmt.Errorf("%s: %v", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)) == want, nil
}

// download fetches url into a temporary file next to dest, checks its md5 and renames it to dest.
func download(ctx context.Context, o FetchOptions, url, dest, wantMD5 string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := o.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP status %s", url, resp.Status)
	}
	total := resp.ContentLength
	if o.Start != nil {
		o.Start(url, total)
	}
	// A failed or corrupt download leaves no file (atomicfile.Write removes its temporary one).
	return atomicfile.Write(dest, func(out io.Writer) error {
		h := md5.New()
		w := io.MultiWriter(out, h)
		buf := make([]byte, 256<<10)
		var done int64
		for {
			n, rerr := resp.Body.Read(buf)
			if n > 0 {
				if _, err := w.Write(buf[:n]); err != nil {
					return err
				}
				done += int64(n)
				if o.Progress != nil {
					o.Progress(done, total)
				}
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				return fmt.Errorf("%s: %v after %d bytes", url, rerr, done)
			}
		}
		if total >= 0 && done != total {
			return fmt.Errorf("%s: got %d bytes, expected %d", url, done, total)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != wantMD5 {
			return fmt.Errorf("%s: md5 mismatch: expected %s, got %s; the download was removed", url, wantMD5, got)
		}
		return nil
	})
}

// extractTarGz unpacks the regular files and folders of a .tar.gz archive under root, refusing
// entries that would land outside it. Each file is written to a temporary name then renamed.
func extractTarGz(archive, root string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: not a gzip file: %v", archive, err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: corrupt tar archive: %v", archive, err)
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if name == "." {
			continue
		}
		if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("%s: entry %q would be extracted outside %s", archive, h.Name, root)
		}
		target := filepath.Join(root, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			if err := writeFileAtomic(target, tr); err != nil {
				return fmt.Errorf("%s: extracting %s: %v", archive, h.Name, err)
			}
		}
	}
}

// writeFileAtomic writes r's content to target atomically (atomicfile.Write).
func writeFileAtomic(target string, r io.Reader) error {
	return atomicfile.Write(target, func(w io.Writer) error {
		_, err := io.Copy(w, r)
		return err
	})
}
