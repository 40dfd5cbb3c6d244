// Package gpu is tlkit's CUDA backend: it runs the schedule of an engine.Program (the same graph
// of tlkit ops the CPU executor runs) on an NVIDIA GPU, for training and inference.
//
// Nothing of CUDA is needed to build it: the driver (libcuda.so.1), NVRTC, cuBLAS and cuDNN 9 are
// loaded at run time with dlopen and called through function pointers, with no CUDA header. They
// are searched in $TLKIT_CUDA_LIBS, Python's NVIDIA wheels, /usr/local/cuda/lib64 and then the
// default loader path; cuDNN's and cuBLAS's companion libraries are loaded first from the same
// directory. Open fails with a message naming what is missing; it never crashes.
//
// How each op runs:
//   - convolutions and their gradients: cuDNN (legacy API) with algorithms benchmarked once per
//     shape and cached, workspace shared by all programs; FMA math unless TF32 is allowed;
//   - BatchNorm: cuDNN's spatial batch normalisation in training and inference mode (its
//     running variance is PyTorch's, unbiased, with exponentialAverageFactor = 1 − ONNX
//     momentum); the backward pass of a training-mode BatchNorm is one cuDNN call that also
//     produces the scale and bias gradients (fused with the schedule's BatchNormGradScale and
//     ChannelSum nodes); inference-mode (frozen) BatchNorm gradients are own kernels;
//   - Gemm: cuBLAS sgemm (row-major via the transposed problem), default math or TF32;
//   - everything else — activations and their gradients, broadcast arithmetic and its
//     gradients, reductions, pools (exact tlkit semantics, with ceil mode, asymmetric pads and
//     dilation), global average pooling, softmax, cross-entropy, Adam — CUDA C kernels compiled
//     by NVRTC for the device's architecture at Open (--fmad=false, reductions in double);
//   - reshapes, and reductions that reduce nothing, alias memory.
//
// Memory: each Program plans its activations and gradients once (liveness over its steps, values
// whose lifetimes do not overlap share memory) into one arena. Parameters, BatchNorm running
// statistics and Adam moments live in the Device, keyed by the host slices they mirror, so
// programs of one model (several batch sizes, training and evaluation) share them;
// SyncToHost writes them back into the model's tensors.
//
// Typical use:
//
//	dev, err := gpu.Open()
//	ep, err := engine.Compile(model, engine.Options{Batch: 64, Train: true})
//	p, err := dev.Compile(ep, gpu.Options{TF32: false})
//	p.SetInput(x); p.SetLabels(y)
//	p.Run(); loss, err := p.Loss()
//	p.Step(adam)        // Adam on the device with adam's hyper-parameters and step count
//	p.SyncToHost()      // before a checkpoint
package gpu
