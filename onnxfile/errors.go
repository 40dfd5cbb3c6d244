package onnxfile

import (
	"fmt"
	"strings"
)

// FormatError reports input that is not a well-formed ONNX protobuf: truncated or corrupt wire
// data, a field of the wrong wire type, a tensor whose data disagrees with its dims, or a file
// that is not an ONNX model at all.
type FormatError struct {
	File   string // the file, when the data came from ReadFile
	Field  string // where in the message tree, such as "graph.node[3].attribute[1]"
	Offset int    // byte offset in the data where the problem was found, -1 if none
	Msg    string
	// NotONNX says that the data is not an ONNX model at all (an image, text, a PyTorch
	// checkpoint...) rather than a damaged one.
	NotONNX bool
}

func (e *FormatError) Error() string {
	if e.NotONNX {
		return describe(e.File, "not an ONNX model: ", e.Field, e.Offset, e.Msg)
	}
	return describe(e.File, "malformed ONNX: ", e.Field, e.Offset, e.Msg)
}

// UnsupportedError reports valid ONNX that this package does not model: graph-valued attributes
// (If, Loop and Scan bodies), external or segmented tensor data, sparse tensors, model-local
// functions, training information and element types without a Go representation.
type UnsupportedError struct {
	File   string
	Field  string
	Offset int
	Msg    string
}

func (e *UnsupportedError) Error() string {
	return describe(e.File, "unsupported ONNX feature: ", e.Field, e.Offset, e.Msg)
}

func describe(file, kind, field string, offset int, msg string) string {
	var b strings.Builder
	b.WriteString("onnxfile: ")
	if file != "" {
		b.WriteString(file)
		b.WriteString(": ")
	}
	b.WriteString(kind)
	if field != "" {
		b.WriteString(field)
		b.WriteString(": ")
	}
	b.WriteString(msg)
	if offset >= 0 {
		fmt.Fprintf(&b, " (at byte %d)", offset)
	}
	return b.String()
}

// sniff recognises common files that people mistake for ONNX models and says what they are.
func sniff(data []byte) string {
	has := func(p string) bool { return strings.HasPrefix(string(data), p) }
	switch {
	case has("\x89PNG\r\n\x1a\n"):
		return "a PNG image"
	case has("\xff\xd8\xff"):
		return "a JPEG image"
	case has("\x1f\x8b"):
		return "gzip-compressed data"
	case has("PK\x03\x04"):
		return "a zip archive, such as a PyTorch .pt checkpoint (export it with torch.onnx.export)"
	case has("\x93NUMPY"):
		return "a NumPy .npy array"
	case has("\x80") && len(data) > 1 && data[1] >= 2 && data[1] <= 5:
		return "a Python pickle"
	}
	n := min(len(data), 256)
	if n == 0 {
		return "empty"
	}
	for _, c := range data[:n] {
		if c != '\n' && c != '\r' && c != '\t' && (c < 0x20 || c >= 0x7f) {
			return ""
		}
	}
	return fmt.Sprintf("text (%q)", string(data[:min(n, 32)]))
}
