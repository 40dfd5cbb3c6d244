package ops

import "golang.org/x/sys/cpu"

// The instruction sets of the float32 vector paths (Winograd's transforms, tanh): AVX-512 where
// the CPU and OS support it, else AVX2, else none (the Go code). Each path does exactly the Go
// code's operations lane by lane, so the results are bitwise the same; float64 always takes the
// Go code.
const (
	isaGo = iota
	isaAVX2
	isaAVX512
)

// vecISA is the instruction set the vector paths use; tests lower it to check each path.
var vecISA = detectISA()

// bestISA is the best instruction set this machine supports.
var bestISA = vecISA

// detectISA asks golang.org/x/sys/cpu, which checks both the CPU (CPUID) and that the OS saves
// the YMM and ZMM state (XGETBV); on other architectures both answers are false.
func detectISA() int {
	switch {
	case cpu.X86.HasAVX512F:
		return isaAVX512
	case cpu.X86.HasAVX2:
		return isaAVX2
	}
	return isaGo
}
