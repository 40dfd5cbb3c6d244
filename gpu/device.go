package gpu

import (
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// Device is one CUDA device with tlkit's libraries, kernels and parameter memory. Its methods
// (and those of its programs) may be called from any goroutine; calls are serialised.
type Device struct {
	mu      sync.Mutex
	a       *api
	ordinal int
	cudev   int
	ctx     unsafe.Pointer
	blas    unsafe.Pointer
	dnn     unsafe.Pointer
	module  unsafe.Pointer
	fns     map[string]unsafe.Pointer
	ws      uint64 // shared workspace (cuDNN and scratch), grown by Compile
	wsSize  uint64
	store   map[*float32]*hostBuf
	algos   map[string]algoChoice
	closed  bool
	info    Info
	// Log, when set, receives one line per notable event (algorithm choices, library notes).
	Log func(string)
}

// Info describes the device and the libraries loaded.
type Info struct {
	Name           string            `json:"name"`
	ComputeCap     string            `json:"compute_capability"`
	SMs            int               `json:"multiprocessors"`
	MemoryBytes    uint64            `json:"memory_bytes"`
	DriverVersion  int               `json:"driver_version"` // e.g. 13000
	CUBLASVersion  int               `json:"cublas_version"`
	CUDNNVersion   int               `json:"cudnn_version"` // e.g. 91000
	NVRTCVersion   string            `json:"nvrtc_version"`
	Libraries      map[string]string `json:"libraries"`
	LoaderNotes    []string          `json:"loader_notes,omitempty"`
	KernelArch     string            `json:"kernel_arch"`
	KernelCompileS float64           `json:"kernel_compile_seconds"`
}

// hostBuf is device memory mirroring a host []float32 that outlives programs: a model tensor
// (parameter, buffer, constant) or BatchNorm running statistics.
type hostBuf struct {
	host  []float32
	name  string
	dev   uint64
	dirty bool   // the device copy is newer than the host's
	m, v  uint64 // Adam moments, allocated by the first Step
}

// Open loads the CUDA libraries, initialises the device ($TLKIT_CUDA_DEVICE, default 0) and
// compiles tlkit's kernels for it. It fails with a message naming what is missing.
func Open() (*Device, error) {
	ord := 0
	if s := os.Getenv(EnvDevice); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("gpu: $%s=%q is not a device ordinal", EnvDevice, s)
		}
		ord = n
	}
	return open(defaultSearchPath(), true, ord)
}

func open(sp searchPath, useDefault bool, ordinal int) (d *Device, err error) {
	a, err := loadLibs(sp, []string{"cuda", "nvrtc", "cublas", "cudnn"}, useDefault)
	if err != nil {
		return nil, err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if noDev, err := a.initDriver(); err != nil {
		if noDev {
			return nil, fmt.Errorf("gpu: no CUDA device (%v)", err)
		}
		return nil, fmt.Errorf("gpu: initialising the CUDA driver (%s): %w", a.paths["cuda"], err)
	}
	count, err := a.deviceCount()
	if err != nil {
		return nil, err
	}
	if count == 0 {
		return nil, errors.New("gpu: no CUDA device (the driver reports 0 devices)")
	}
	if ordinal >= count {
		return nil, fmt.Errorf("gpu: device %d requested but the driver reports %d device(s)", ordinal, count)
	}
	d = &Device{a: a, ordinal: ordinal, fns: map[string]unsafe.Pointer{}, store: map[*float32]*hostBuf{}, algos: map[string]algoChoice{}}
	d.info.Libraries = a.paths
	d.info.LoaderNotes = a.notes
	if d.cudev, err = a.deviceGet(ordinal); err != nil {
		return nil, err
	}
	ctx, err := a.primaryCtxRetain(d.cudev)
	if err != nil {
		return nil, err
	}
	d.ctx = ctx
	defer func() {
		if err != nil {
			d.release()
		}
	}()
	if err := a.setCurrent(ctx); err != nil {
		return nil, err
	}
	if d.info.Name, err = a.deviceName(d.cudev); err != nil {
		return nil, err
	}
	// CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75, _MINOR = 76, MULTIPROCESSOR_COUNT = 16
	major, err := a.deviceAttr(d.cudev, 75)
	if err != nil {
		return nil, err
	}
	minor, err := a.deviceAttr(d.cudev, 76)
	if err != nil {
		return nil, err
	}
	if d.info.SMs, err = a.deviceAttr(d.cudev, 16); err != nil {
		return nil, err
	}
	d.info.ComputeCap = fmt.Sprintf("%d.%d", major, minor)
	if d.info.MemoryBytes, err = a.deviceTotalMem(d.cudev); err != nil {
		return nil, err
	}
	if d.info.DriverVersion, err = a.driverVersion(); err != nil {
		return nil, err
	}
	maj, min, err := a.nvrtcVersionOf()
	if err != nil {
		return nil, err
	}
	d.info.NVRTCVersion = fmt.Sprintf("%d.%d", maj, min)
	d.info.CUDNNVersion = a.cudnnVersion()
	if d.blas, err = a.cublasCreateHandle(); err != nil {
		return nil, err
	}
	if d.info.CUBLASVersion, err = a.cublasVersion(d.blas); err != nil {
		return nil, err
	}
	if d.dnn, err = a.cudnnCreateHandle(); err != nil {
		return nil, fmt.Errorf("%w (cuDNN loads its sub-libraries from the directory of %s; loader notes: %v)", err, a.paths["cudnn"], a.notes)
	}
	if err = d.compileKernels(major, minor); err != nil {
		return nil, err
	}
	return d, nil
}

// compileKernels builds kernelSource for the device and loads it.
func (d *Device) compileKernels(major, minor int) error {
	opts := nvrtcOptions(major, minor)
	d.info.KernelArch = opts[0]
	t0 := time.Now()
	cubin, log, err := d.a.compile(kernelSource, "tlkit_kernels.cu", opts)
	d.info.KernelCompileS = time.Since(t0).Seconds()
	if err != nil {
		return fmt.Errorf("gpu: compiling tlkit's kernels with NVRTC %s (%s): %w\n%s", d.info.NVRTCVersion, strings.Join(opts, " "), err, log)
	}
	mod, err := d.a.moduleLoad(cubin)
	if err != nil {
		return err
	}
	d.module = mod
	for _, name := range kernelNames() {
		fn, err := d.a.moduleFunction(mod, name)
		if err != nil {
			return err
		}
		d.fns[name] = fn
	}
	return nil
}

// Info describes the device and its libraries.
func (d *Device) Info() Info { return d.info }

func (d *Device) logf(format string, args ...any) {
	if d.Log != nil {
		d.Log(fmt.Sprintf(format, args...))
	}
}

// enter locks the device for one API call and makes its context current on this thread.
func (d *Device) enter() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return errors.New("gpu: the device is closed")
	}
	runtime.LockOSThread()
	if err := d.a.setCurrent(d.ctx); err != nil {
		runtime.UnlockOSThread()
		d.mu.Unlock()
		return err
	}
	return nil
}

func (d *Device) exit() {
	runtime.UnlockOSThread()
	d.mu.Unlock()
}

// Sync waits for the device to finish all queued work and reports any asynchronous error.
func (d *Device) Sync() error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.exit()
	return d.a.sync()
}

// MemInfo returns the device's free and total memory in bytes.
func (d *Device) MemInfo() (free, total uint64, err error) {
	if err := d.enter(); err != nil {
		return 0, 0, err
	}
	defer d.exit()
	return d.a.memInfo()
}

// Close frees everything the device holds; its programs must not be used afterwards.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := d.a.setCurrent(d.ctx); err != nil {
		return err
	}
	err := d.a.sync()
	for _, b := range d.store {
		for _, p := range []uint64{b.dev, b.m, b.v} {
			if e := d.a.memFree(p); e != nil && err == nil {
				err = e
			}
		}
	}
	d.store = nil
	if e := d.a.memFree(d.ws); e != nil && err == nil {
		err = e
	}
	d.ws, d.wsSize = 0, 0
	d.release()
	d.closed = true
	return err
}

// release frees the handles and the context (best effort).
func (d *Device) release() {
	a := d.a
	if d.module != nil {
		a.moduleUnload(d.module)
		d.module = nil
	}
	if d.dnn != nil {
		a.cudnnDestroyHandle(d.dnn)
		d.dnn = nil
	}
	if d.blas != nil {
		a.cublasDestroyHandle(d.blas)
		d.blas = nil
	}
	if d.ctx != nil {
		a.primaryCtxRelease(d.cudev)
		d.ctx = nil
	}
}

// buffer returns the device copy of a host slice, uploading it on first use.
func (d *Device) buffer(host []float32, name string) (*hostBuf, error) {
	if len(host) == 0 {
		return nil, fmt.Errorf("gpu: empty tensor %q", name)
	}
	if b, ok := d.store[&host[0]]; ok {
		if len(b.host) != len(host) {
			return nil, fmt.Errorf("gpu: tensor %q (%d values) shares memory with %q (%d values)", name, len(host), b.name, len(b.host))
		}
		return b, nil
	}
	p, err := d.a.memAlloc(int64(4 * len(host)))
	if err != nil {
		return nil, fmt.Errorf("gpu: allocating %q: %w", name, err)
	}
	if err := d.a.htod(p, host); err != nil {
		d.a.memFree(p)
		return nil, fmt.Errorf("gpu: uploading %q: %w", name, err)
	}
	b := &hostBuf{host: host, name: name, dev: p}
	d.store[&host[0]] = b
	return b, nil
}

// growWorkspace makes the shared workspace at least n bytes.
func (d *Device) growWorkspace(n uint64) error {
	if n <= d.wsSize {
		return nil
	}
	if err := d.a.sync(); err != nil {
		return err
	}
	if err := d.a.memFree(d.ws); err != nil {
		return err
	}
	d.ws, d.wsSize = 0, 0
	p, err := d.a.memAlloc(int64(n))
	if err != nil {
		return fmt.Errorf("gpu: allocating a %d-byte workspace: %w", n, err)
	}
	d.ws, d.wsSize = p, n
	return nil
}

// SyncToHost copies every parameter and running statistic the device has changed (Adam steps,
// training-mode BatchNorm) back into the host slices, so checkpoints see them.
func (d *Device) SyncToHost() error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.exit()
	return d.syncToHost()
}

func (d *Device) syncToHost() error {
	for _, b := range d.store {
		if !b.dirty {
			continue
		}
		if err := d.a.dtoh(b.host, b.dev); err != nil {
			return fmt.Errorf("gpu: downloading %q: %w", b.name, err)
		}
		b.dirty = false
	}
	return nil
}

// ---- kernel launches ----

const threads = 256

// launch runs kernel name over n work items (grid-stride, 256 threads a block).
func (d *Device) launch(name string, n int64, args ...any) error {
	if n <= 0 {
		return nil
	}
	blocks := (n + threads - 1) / threads
	if blocks > 1<<16 {
		blocks = 1 << 16
	}
	return d.launchBlocks(name, int(blocks), args...)
}

// launchBlocks runs kernel name on `blocks` blocks of 256 threads.
func (d *Device) launchBlocks(name string, blocks int, args ...any) error {
	if blocks <= 0 {
		return nil
	}
	if blocks > 1<<20 {
		blocks = 1 << 20
	}
	fn, ok := d.fns[name]
	if !ok {
		return fmt.Errorf("gpu: no kernel %q", name)
	}
	slots, err := kernelArgs(name, args)
	if err != nil {
		return err
	}
	if r := d.a.launch(fn, [3]uint32{uint32(blocks), 1, 1}, [3]uint32{threads, 1, 1}, 0, slots); r != 0 {
		return d.a.cuErr("cuLaunchKernel("+name+")", r)
	}
	return nil
}

// kernelArgs packs launch arguments into 8-byte slots after checking them against the kernel's
// parameter list: uint64 for pointers, int for int (range-checked), float32 for float.
func kernelArgs(name string, args []any) ([]uint64, error) {
	sig, ok := kernelSpecs[name]
	if !ok {
		return nil, fmt.Errorf("gpu: no kernel %q", name)
	}
	if len(args) != len(sig) {
		return nil, fmt.Errorf("gpu: kernel %s takes %d arguments, got %d", name, len(sig), len(args))
	}
	slots := make([]uint64, len(args))
	for i, a := range args {
		switch sig[i] {
		case 'p':
			p, ok := a.(uint64)
			if !ok {
				return nil, fmt.Errorf("gpu: kernel %s argument %d: want a device pointer (uint64), got %T", name, i, a)
			}
			slots[i] = p
		case 'i':
			var v int64
			switch x := a.(type) {
			case int:
				v = int64(x)
			case int32:
				v = int64(x)
			default:
				return nil, fmt.Errorf("gpu: kernel %s argument %d: want an int, got %T", name, i, a)
			}
			if v < math.MinInt32 || v > math.MaxInt32 {
				return nil, fmt.Errorf("gpu: kernel %s argument %d: %d does not fit an int", name, i, v)
			}
			slots[i] = uint64(uint32(int32(v)))
		case 'f':
			f, ok := a.(float32)
			if !ok {
				return nil, fmt.Errorf("gpu: kernel %s argument %d: want a float32, got %T", name, i, a)
			}
			slots[i] = uint64(math.Float32bits(f))
		default:
			return nil, fmt.Errorf("gpu: kernel %s: bad signature %q", name, sig)
		}
	}
	return slots, nil
}

// CompileKernels compiles tlkit's kernels with NVRTC alone (no GPU or driver needed) for compute
// capability major.minor, returning the cubin's size, the NVRTC version and the compiler's log.
func CompileKernels(major, minor int) (size int, version, log string, err error) {
	a, err := loadLibs(defaultSearchPath(), []string{"nvrtc"}, true)
	if err != nil {
		return 0, "", "", err
	}
	maj, min, err := a.nvrtcVersionOf()
	if err != nil {
		return 0, "", "", err
	}
	version = fmt.Sprintf("%d.%d (%s)", maj, min, a.paths["nvrtc"])
	cubin, log, err := a.compile(kernelSource, "tlkit_kernels.cu", nvrtcOptions(major, minor))
	return len(cubin), version, log, err
}
