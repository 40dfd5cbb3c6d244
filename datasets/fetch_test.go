package datasets

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fileServer serves files from memory and counts the requests per path.
type fileServer struct {
	mu    sync.Mutex
	files map[string][]byte
	hits  map[string]int
}

func (s *fileServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.hits[r.URL.Path]++
	data, ok := s.files[r.URL.Path]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Write(data)
}

func (s *fileServer) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, h := range s.hits {
		n += h
	}
	return n
}

func newFileServer(t *testing.T, files map[string][]byte) (*fileServer, string) {
	fs := &fileServer{files: files, hits: map[string]int{}}
	srv := httptest.NewServer(fs)
	t.Cleanup(srv.Close)
	return fs, srv.URL
}

func md5Hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// withRemoteSet replaces the download table entry of name for one test.
func withRemoteSet(t *testing.T, name string, set remoteSet) {
	old := remoteSets[name]
	remoteSets[name] = set
	t.Cleanup(func() { remoteSets[name] = old })
}

// tarGz builds a .tar.gz archive of the given entries (a nil body makes a folder).
func tarGz(t *testing.T, entries []string, bodies map[string][]byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, name := range entries {
		body, ok := bodies[name]
		h := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}
		if !ok {
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func TestFetchCIFAR100Archive(t *testing.T) {
	bodies := map[string][]byte{}
	var entries = []string{"cifar-100-binary/"}
	for _, f := range []string{"train.bin", "test.bin", "fine_label_names.txt", "coarse_label_names.txt"} {
		b, err := os.ReadFile(filepath.Join("testdata/cifar/binary/cifar-100-binary", f))
		if err != nil {
			t.Fatal(err)
		}
		bodies["cifar-100-binary/"+f] = b
		entries = append(entries, "cifar-100-binary/"+f)
	}
	archive := tarGz(t, entries, bodies)
	set := remoteSets["cifar100"]
	set.files = []remoteFile{{"cifar-100-binary.tar.gz", md5Hex(archive)}}
	withRemoteSet(t, "cifar100", set)
	srv, url := newFileServer(t, map[string][]byte{"/cifar-100-binary.tar.gz": archive})

	root := t.TempDir()
	var last [2]int64
	var started string
	o := FetchOptions{BaseURL: url, Progress: func(done, total int64) { last = [2]int64{done, total} },
		Start: func(u string, total int64) { started = u }}
	if err := Fetch(context.Background(), "cifar100", root, o); err != nil {
		t.Fatal(err)
	}
	if last[0] != int64(len(archive)) || last[1] != int64(len(archive)) || started != url+"/cifar-100-binary.tar.gz" {
		t.Errorf("progress ended at %v for %d bytes; start %q", last, len(archive), started)
	}
	train, test, err := Open("cifar100", root)
	if err != nil || train.Len() != 5 || test.Len() != 3 {
		t.Fatalf("open after fetch: %v", err)
	}
	// Done already: nothing downloaded.
	if err := Fetch(context.Background(), "cifar-100", root, o); err != nil || srv.total() != 1 {
		t.Fatalf("second fetch: %v, %d requests", err, srv.total())
	}
	// An extracted file lost: extracted again from the kept archive, still no download.
	os.Remove(filepath.Join(root, "cifar-100-binary", "test.bin"))
	if err := Fetch(context.Background(), "cifar100", root, o); err != nil || srv.total() != 1 || !exists(filepath.Join(root, "cifar-100-binary", "test.bin")) {
		t.Fatalf("re-extraction: %v, %d requests", err, srv.total())
	}
	// A damaged archive is downloaded again.
	os.Remove(filepath.Join(root, "cifar-100-binary", "test.bin"))
	writeFile(t, filepath.Join(root, "cifar-100-binary.tar.gz"), archive[:100])
	if err := Fetch(context.Background(), "cifar100", root, o); err != nil || srv.total() != 2 {
		t.Fatalf("damaged archive: %v, %d requests", err, srv.total())
	}
	leftovers, _ := filepath.Glob(filepath.Join(root, "*.part"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

func TestFetchMNISTFiles(t *testing.T) {
	dir := t.TempDir()
	writeTinyIDXSet(t, dir, true)
	files := map[string][]byte{}
	set := remoteSets["mnist"]
	set.files = nil
	for _, f := range idxFiles {
		b, err := os.ReadFile(filepath.Join(dir, f+".gz"))
		if err != nil {
			t.Fatal(err)
		}
		files["/"+f+".gz"] = b
		set.files = append(set.files, remoteFile{f + ".gz", md5Hex(b)})
	}
	withRemoteSet(t, "mnist", set)
	srv, url := newFileServer(t, files)
	root := t.TempDir()
	if err := Fetch(context.Background(), "mnist", root, FetchOptions{BaseURL: url + "/"}); err != nil {
		t.Fatal(err)
	}
	train, test, err := Open("mnist", root)
	if err != nil || train.Len() != 3 || test.Labels[0] != 7 {
		t.Fatalf("open after fetch: %v", err)
	}
	if err := Fetch(context.Background(), "mnist", root, FetchOptions{BaseURL: url}); err != nil || srv.total() != 4 {
		t.Fatalf("second fetch: %v, %d requests (want the 4 of the first)", err, srv.total())
	}
}

// TestFetchMD5Mismatch serves wrong content for the real MNIST table: the error names both md5s
// and nothing is left behind.
func TestFetchMD5Mismatch(t *testing.T) {
	body := []byte("not the MNIST training images")
	_, url := newFileServer(t, map[string][]byte{"/train-images-idx3-ubyte.gz": body})
	root := t.TempDir()
	err := Fetch(context.Background(), "mnist", root, FetchOptions{BaseURL: url})
	want := "md5 mismatch: expected f68b3c2dcbeaaa9fbdd348bbdeb94873, got " + md5Hex(body)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want %q", err, want)
	}
	left, _ := os.ReadDir(filepath.Join(root, "mnist"))
	if len(left) != 0 {
		t.Errorf("files left after the mismatch: %v", left)
	}
}

func TestFetchErrors(t *testing.T) {
	_, url := newFileServer(t, map[string][]byte{})
	root := t.TempDir()
	if err := Fetch(context.Background(), "fashion-mnist", root, FetchOptions{BaseURL: url}); err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "train-images-idx3-ubyte.gz") {
		t.Errorf("missing file: %v", err)
	}
	if err := Fetch(context.Background(), "svhn", root, FetchOptions{BaseURL: url}); err == nil || !strings.Contains(err.Error(), "unknown dataset") {
		t.Errorf("unknown name: %v", err)
	}
	evil := tarGz(t, []string{"../evil.txt"}, map[string][]byte{"../evil.txt": []byte("x")})
	set := remoteSets["cifar100"]
	set.files = []remoteFile{{"cifar-100-binary.tar.gz", md5Hex(evil)}}
	withRemoteSet(t, "cifar100", set)
	_, url = newFileServer(t, map[string][]byte{"/cifar-100-binary.tar.gz": evil})
	data := filepath.Join(root, "data")
	if err := Fetch(context.Background(), "cifar100", data, FetchOptions{BaseURL: url}); err == nil || !strings.Contains(err.Error(), "would be extracted outside") {
		t.Errorf("path traversal: %v", err)
	}
	if exists(filepath.Join(root, "evil.txt")) {
		t.Error("an entry was written outside the data root")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Fetch(ctx, "mnist", t.TempDir(), FetchOptions{BaseURL: url}); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("cancelled: %v", err)
	}
}
