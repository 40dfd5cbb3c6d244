package conformance

// Deviation is a known, explained way in which tlkit departs from a node test: a feature of a
// claimed operator, an element type or a model form that tlkit does not implement. A test listed
// here must be refused with an unsupported-feature error (an *importer.UnsupportedError, or an
// error of engine.Compile that errors.Is engine.ErrNotSupported) whose text contains Error. A
// listed test that passes, that is refused as an invalid model (an *importer.FormatError: these
// models are valid ONNX), that computes wrong values or that panics fails the conformance test.
//
// Wrong values are never a deviation: they are bugs, and their tests fail until they are fixed.
type Deviation struct {
	// Reason says what tlkit does not implement, for docs/onnx-conformance.md.
	Reason string
	// Error is a substring of the error tlkit must return; empty accepts any unsupported-feature
	// error (used where the engine does not yet give a specific message).
	Error string
	// Tests are the node test directories it explains.
	Tests []string
}

// Deviations is the table of known deviations, in the order docs/onnx-conformance.md lists them.
var Deviations = []Deviation{
	{
		Reason: "integer input: tlkit models take a float image batch and compute in float32",
		Error:  "element type",
		Tests: []string{"test_add_uint8", "test_sub_uint8", "test_mul_uint8", "test_div_uint8",
			"test_clip_default_int8_inbounds", "test_clip_default_int8_max", "test_clip_default_int8_min",
			"test_maxpool_2d_uint8"},
	},
	{
		Reason: "int32 input: tlkit models compute in float32 (the edge and reflect modes are checked against PyTorch on float data: testdata/torch/shape.json)",
		Error:  "element type INT32",
		Tests:  []string{"test_edge_pad", "test_reflect_pad"},
	},
	{
		Reason: "the only input is an integer shape vector: ConstantOfShape is evaluated at build time " +
			"on constant shapes, and tlkit models take a float image batch",
		Error: "element type INT64",
		Tests: []string{"test_constantofshape_float_ones", "test_constantofshape_int_shape_zero",
			"test_constantofshape_int_zeros"},
	},
	{
		Reason: "non-float32 input (DOUBLE, FLOAT16, BFLOAT16 or STRING): tlkit models take a float32 image batch",
		Error:  "element type",
		Tests: []string{"test_cast_BFLOAT16_to_FLOAT", "test_cast_DOUBLE_to_FLOAT", "test_cast_DOUBLE_to_FLOAT16",
			"test_cast_FLOAT16_to_DOUBLE", "test_cast_FLOAT16_to_FLOAT", "test_cast_STRING_to_FLOAT",
			"test_castlike_BFLOAT16_to_FLOAT_expanded", "test_castlike_DOUBLE_to_FLOAT16_expanded",
			"test_castlike_DOUBLE_to_FLOAT_expanded", "test_castlike_FLOAT16_to_DOUBLE_expanded",
			"test_castlike_FLOAT16_to_FLOAT_expanded", "test_castlike_STRING_to_FLOAT_expanded"},
	},
	{
		Reason: "Cast of a computed tensor to FLOAT16, BFLOAT16 or STRING: tlkit computes in float32 (a cast to FLOAT or DOUBLE is the identity)",
		Error:  "cast of a computed tensor",
		Tests: []string{"test_cast_FLOAT_to_BFLOAT16", "test_cast_FLOAT_to_FLOAT16", "test_cast_FLOAT_to_STRING",
			"test_castlike_FLOAT_to_BFLOAT16_expanded", "test_castlike_FLOAT_to_FLOAT16_expanded",
			"test_castlike_FLOAT_to_STRING_expanded"},
	},
	{
		Reason: "1-D pooling: tlkit pools 2-D (NCHW) inputs only",
		Error:  "only 2-D pooling",
		Tests:  []string{"test_averagepool_1d_default", "test_maxpool_1d_default"},
	},
	{
		Reason: "3-D pooling: tlkit pools 2-D (NCHW) inputs only",
		Error:  "only 2-D pooling",
		Tests:  []string{"test_averagepool_3d_default", "test_maxpool_3d_default"},
	},
	{
		Reason: "MaxPool with the Indices output",
		Error:  "Indices output",
		Tests:  []string{"test_maxpool_with_argmax_2d_precomputed_pads", "test_maxpool_with_argmax_2d_precomputed_strides"},
	},
	{
		Reason: "training-mode BatchNormalization outputs running mean and variance as graph outputs; " +
			"tlkit updates them in place (Options.Train) and builds only the Y output",
		Error: "only the first output (Y)",
		Tests: []string{"test_batchnorm_epsilon_training_mode", "test_batchnorm_example_training_mode"},
	},
	{
		Reason: "training-mode Dropout with a non-zero ratio: tlkit does not draw random masks (Dropout computes the identity of inference mode)",
		Error:  "training-mode Dropout",
		Tests:  []string{"test_training_dropout", "test_training_dropout_default"},
	},
	{
		Reason: "Dropout with the mask output",
		Error:  "mask output",
		Tests: []string{"test_dropout_default_mask", "test_dropout_default_mask_ratio",
			"test_training_dropout_default_mask", "test_training_dropout_mask", "test_training_dropout_zero_ratio_mask"},
	},
	{
		Reason: "Gather on a computed tensor: tlkit evaluates Gather at build time on constant shape vectors only",
		Error:  "Gather is supported on constant shape tensors only",
		Tests:  []string{"test_gather_0", "test_gather_1", "test_gather_2d_indices", "test_gather_negative_indices"},
	},
	{
		Reason: "Slice of a computed tensor with a negative step: tlkit slices activations with step 1 only (constant tensors, such as the pads PyTorch's exporter computes, fold with any step)",
		Error:  "slicing a computed tensor with step",
		Tests:  []string{"test_slice_neg_steps"},
	},
	{
		Reason: "operator set 1 (GlobalAveragePool-1, GlobalMaxPool-1, Softplus-1, Softsign-1) or 6 (HardSigmoid-6, Elu-6, Selu-6): " +
			"tlkit imports opsets 7 to 22 (re-stamped to opset 7, these tests pass: TestOldOpsetValues)",
		Error: "operator set version",
		Tests: []string{"test_globalaveragepool", "test_globalaveragepool_precomputed", "test_globalmaxpool", "test_globalmaxpool_precomputed",
			"test_hardsigmoid", "test_hardsigmoid_default", "test_hardsigmoid_example",
			"test_elu", "test_elu_default", "test_elu_example", "test_selu", "test_selu_default", "test_selu_example",
			"test_softplus", "test_softplus_example", "test_softsign", "test_softsign_example"},
	},
	{
		Reason: "optional or sequence input: tlkit models take one tensor",
		Error:  "has no shape",
		Tests:  []string{"test_identity_opt", "test_identity_sequence"},
	},
	{
		Reason: "the output is Shape's integer vector: tlkit evaluates shape computations at build time and " +
			"has no integer outputs",
		Tests: []string{"test_shape", "test_shape_clip_end", "test_shape_clip_start", "test_shape_end_1",
			"test_shape_end_negative_1", "test_shape_example", "test_shape_start_1", "test_shape_start_1_end_2",
			"test_shape_start_1_end_negative_1", "test_shape_start_negative_1"},
	},
	{
		Reason: "no input: tlkit models take one image batch",
		Tests:  []string{"test_constant"},
	},
	{
		Reason: "a tensor with a dimension of size 0 (an empty input or result): gorgonia tensors cannot be empty",
		Tests:  []string{"test_reshape_allowzero_reordered", "test_slice_start_out_of_bounds", "test_split_zero_size_splits"},
	},
	{
		Reason: "SoftmaxCrossEntropyLoss with class weights, ignore_index, per-position (spatial) scores, " +
			"reduction \"none\" or the log_prob output: tlkit's loss is the mean or summed softmax cross-entropy of N×C logits",
		Tests: []string{"test_sce_NCd1_mean_weight_negative_ii", "test_sce_NCd1_mean_weight_negative_ii_log_prob", "test_sce_NCd1d2d3_none_no_weight_negative_ii",
			"test_sce_NCd1d2d3_none_no_weight_negative_ii_log_prob", "test_sce_NCd1d2d3_sum_weight_high_ii", "test_sce_NCd1d2d3_sum_weight_high_ii_log_prob",
			"test_sce_NCd1d2d3d4d5_mean_weight", "test_sce_NCd1d2d3d4d5_mean_weight_log_prob", "test_sce_NCd1d2d3d4d5_none_no_weight",
			"test_sce_NCd1d2d3d4d5_none_no_weight_log_prob", "test_sce_mean_3d", "test_sce_mean_3d_log_prob",
			"test_sce_mean_log_prob", "test_sce_mean_no_weight_ii", "test_sce_mean_no_weight_ii_3d",
			"test_sce_mean_no_weight_ii_3d_log_prob", "test_sce_mean_no_weight_ii_4d", "test_sce_mean_no_weight_ii_4d_log_prob",
			"test_sce_mean_no_weight_ii_log_prob", "test_sce_mean_weight", "test_sce_mean_weight_ii",
			"test_sce_mean_weight_ii_3d", "test_sce_mean_weight_ii_3d_log_prob", "test_sce_mean_weight_ii_4d",
			"test_sce_mean_weight_ii_4d_log_prob", "test_sce_mean_weight_ii_log_prob", "test_sce_mean_weight_log_prob",
			"test_sce_none", "test_sce_none_log_prob", "test_sce_none_weights",
			"test_sce_none_weights_log_prob", "test_sce_sum_log_prob"},
	},
}

// deviation returns the table entry that lists test, or nil.
func deviation(test string) *Deviation {
	for i := range Deviations {
		for _, t := range Deviations[i].Tests {
			if t == test {
				return &Deviations[i]
			}
		}
	}
	return nil
}
