package datasets

import (
	"encoding/hex"
	"strings"
	"testing"
)

// pickledSample is pickle.dumps({'a': [1, -2, 3.5, 'x\xe9', b'\x00\xff', True, None, (1, 2)],
// 'big': 2**40, 'neg': -300}, protocol=P) as Python 3.11 writes it, hex-encoded.
var pickledSample = map[int]string{
	0: "286470300a56610a70310a286c70320a49310a61492d320a6146332e350a615678e90a70330a61635f636f646563730a656e636f64650a70340a28565c7530303030ff0a70350a566c6174696e310a70360a7470370a5270380a614930310a614e612849310a49320a7470390a6173566269670a7031300a4c313039393531313632373737364c0a73566e65670a7031310a492d3330300a732e",
	1: "7d71002858010000006171015d7102284b014afeffffff47400c000000000000580300000078c3a97103635f636f646563730a656e636f64650a710428580300000000c3bf710558060000006c6174696e3171067471075271084930310a4e284b014b02747109655803000000626967710a4c313039393531313632373737364c0a58030000006e6567710b4ad4feffff752e",
	2: "80027d71002858010000006171015d7102284b014afeffffff47400c000000000000580300000078c3a97103635f636f646563730a656e636f64650a7104580300000000c3bf710558060000006c6174696e317106867107527108884e4b014b02867109655803000000626967710a8a0600000000000158030000006e6567710b4ad4feffff752e",
	4: "80049549000000000000007d94288c0161945d94284b014afeffffff47400c0000000000008c0378c3a994430200ff94884e4b014b028694658c03626967948a060000000000018c036e6567944ad4feffff752e",
	5: "80059549000000000000007d94288c0161945d94284b014afeffffff47400c0000000000008c0378c3a994430200ff94884e4b014b028694658c03626967948a060000000000018c036e6567944ad4feffff752e",
}

func TestUnpickleProtocols(t *testing.T) {
	for proto, h := range pickledSample {
		data, _ := hex.DecodeString(h)
		v, err := unpickle(data, "sample")
		if err != nil {
			t.Fatalf("protocol %d: %v", proto, err)
		}
		d, ok := v.(*pyDict)
		if !ok {
			t.Fatalf("protocol %d: got a %s", proto, typeName(v))
		}
		a, _ := d.lookup("a")
		l, ok := a.(*pyList)
		if !ok || len(l.items) != 8 {
			t.Fatalf("protocol %d: 'a' is %#v", proto, a)
		}
		s, _ := textOf(l.items[3])
		b, _ := rawBytes(l.items[4])
		tup, _ := l.items[7].(pyTuple)
		if l.items[0] != int64(1) || l.items[1] != int64(-2) || l.items[2] != 3.5 || s != "xé" || string(b) != "\x00\xff" ||
			l.items[5] != true || l.items[6] != nil || len(tup) != 2 || tup[1] != int64(2) {
			t.Errorf("protocol %d: 'a' decoded as %#v", proto, l.items)
		}
		big, _ := d.lookup("big")
		neg, _ := d.lookup("neg")
		if big != int64(1<<40) || neg != int64(-300) {
			t.Errorf("protocol %d: big %v neg %v", proto, big, neg)
		}
	}
}

func TestUnpickleErrors(t *testing.T) {
	for _, c := range []struct {
		name, data, want string
	}{
		{"empty", "", "truncated: no STOP opcode"},
		{"no stop", "\x80\x02K\x01", "truncated: no STOP opcode"},
		{"underflow", "\x80\x02.", "stack underflow"},
		{"append to int", "K\x01K\x02a.", "APPEND to a int, expected a list"},
		{"memo", "h\x05.", "memo entry 5 was never stored"},
		{"long string", "T\xff\xff\xff\x7fab.", "truncated: an item of 2147483647 bytes, file has 3 left"},
		{"protocol", "\x80\x09.", "unsupported protocol 9"},
		{"persistent id", "P1\n.", "unsupported opcode 0x50"},
		{"no mark", "K\x01t.", "no MARK on the stack"},
		{"array size", "cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R(K\x01K\x04\x85cnumpy\ndtype\nU\x02u1K\x00K\x01\x87R\x89U\x03abct\x85b.", "numpy array state is a tuple"},
	} {
		_, err := unpickle([]byte(c.data), "p.pkl")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "p.pkl: pickle: ") {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	// An ndarray whose state claims 4 bytes but holds 3.
	bad := "cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R(K\x01K\x04\x85cnumpy\ndtype\nU\x02u1K\x00K\x01\x87R\x89U\x03abctb."
	if _, err := unpickle([]byte(bad), "p.pkl"); err == nil || !strings.Contains(err.Error(), "needs 4 bytes, has 3") {
		t.Errorf("array size: %v", err)
	}
	// A CIFAR dict whose array was never given its state.
	unfilled := "\x80\x02}(U\x04datacnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87Ru."
	if _, err := ParseCIFAR100Pickle([]byte(unfilled), "train"); err == nil || !strings.Contains(err.Error(), "never filled") {
		t.Errorf("unfilled array: %v", err)
	}
}
