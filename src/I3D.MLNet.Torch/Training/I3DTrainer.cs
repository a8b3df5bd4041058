using System.Diagnostics;
using I3D.MLNet.Clips;
using I3D.MLNet.ModelZip;
using I3D.MLNet.Scoring;
using I3D.MLNet.Torch.Numerics;
using I3D.MLNet.Video;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Training;

/// <summary>
/// Fine-tunes (or trains) two-stream I3D with TorchSharp on clip columns and a key label
/// (<c>mlContext.MulticlassClassification.Trainers.I3D</c>). Streams are separate networks with their own losses,
/// optimizers and learning-rate schedules (section 2.5: the streams are trained separately), read in one pass over the
/// data so each video is decoded once per epoch; at test time their logits are summed. SGD with momentum; the
/// learning rate is divided by 10 when the validation loss stops improving (section 3). Streams the data row by row;
/// checkpoints and resumes.
/// </summary>
public sealed class I3DTrainer : IEstimator<I3DPredictionTransformer>
{
    private readonly IHost _host;

    /// <summary>The options the trainer was made with.</summary>
    public I3DTrainerOptions Options { get; }

    internal I3DTrainer(IHostEnvironment env, I3DTrainerOptions options)
    {
        _host = Contracts.CheckRef(env, nameof(env)).Register(nameof(I3DTrainer));
        options.Validate();
        Options = options;
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        if (!inputSchema.TryFindColumn(Options.LabelColumnName, out var label))
            throw _host.ExceptSchemaMismatch(nameof(inputSchema), "label", Options.LabelColumnName);
        if (label.Kind != SchemaShape.Column.VectorKind.Scalar || !label.IsKey)
            throw _host.ExceptSchemaMismatch(nameof(inputSchema), "label", Options.LabelColumnName, "a key (map labels with MapValueToKey)", label.GetTypeString());
        foreach (var (_, column) in Options.StreamColumns)
            ClipColumns.CheckSchemaShape(_host, inputSchema, column);
        return ClassScores.OutputShape(inputSchema, Options.ScoreColumnName, Options.PredictedLabelColumnName, label.ItemType, Options.StreamColumns.Select(s => s.Stream));
    }

    /// <summary>Trains the streams on <paramref name="input"/>'s clip and label columns (resuming from the checkpoint when one matches) and returns the classifier.</summary>
    public I3DPredictionTransformer Fit(IDataView input)
    {
        using var channel = _host.Start("I3D training");
        var labelColumn = input.Schema.GetColumnOrNull(Options.LabelColumnName)
            ?? throw new ArgumentException($"the training data has no label column '{Options.LabelColumnName}'");
        if (labelColumn.Type is not KeyDataViewType { Count: > 0 } keyType || keyType.RawType != typeof(uint))
            throw new ArgumentException($"label column '{labelColumn.Name}' has type {labelColumn.Type}; expected a key (map labels with MapValueToKey)");
        int numClasses = checked((int)keyType.Count);
        if (numClasses < 2) throw new ArgumentException($"label column '{labelColumn.Name}' has {numClasses} class; a classifier needs at least two");
        string[] classes = ClassNames(labelColumn, numClasses);

        var streamColumns = Options.StreamColumns.Select(s =>
        {
            var column = Column(input, s.Column);
            return (Stream: s.Stream, Column: column, Shape: ClipColumns.Shape(column, s.Stream.Channels(), s.Stream.Name()));
        }).ToList();

        var device = TorchDevices.Resolve(Options.Device);
        if (Options.Threads > 0) set_num_threads(Options.Threads);
        var streams = new List<StreamNetwork>();
        var optimizers = new List<SGD>();
        var parameters = new List<IList<Parameter>>();
        try
        {
            for (int i = 0; i < streamColumns.Count; i++)
            {
                manual_seed(Options.Seed * 1000L + i);
                var (name, column, shape) = streamColumns[i];
                Options.Architecture.CheckShape(shape, $"column '{column.Name}' ({name.Name()} clips)");
                var stream = StreamNetwork.Create(name, column.Name, numClasses, (int)shape[1], Options, cropSize: (int)shape[3]);
                stream.MoveTo(device);
                if (Options.BatchNormMomentum is { } momentum)
                    foreach (var (_, module) in stream.Module.named_modules())
                        if (module is BatchNorm bn) bn.momentum = momentum;
                streams.Add(stream);
                var trainable = stream.TrainableParameters(Options.FixedFeatures);
                parameters.Add(trainable);
                optimizers.Add(new HeldSgd.SGD(trainable, Options.LearningRate, Options.Momentum, Options.WeightDecay));
            }
            if (!input.CanShuffle)
                channel.Warning("I3D: the training data cannot shuffle, so every epoch reads the rows in their stored order (one class per batch if they are stored class by class); load the rows with VideoDataset.ToDataView or another source that can shuffle");
            if (Options.Precision == TrainingPrecision.BFloat16 && device.type == DeviceType.CPU && MachineIdentity.HasBFloat16Arithmetic == false)
                channel.Warning($"I3D: mixed precision on {MachineIdentity.Cpu}, which has neither AVX-512 BF16 nor AMX: oneDNN emulates bfloat16 convolutions there, so expect training slower than in float32");
            channel.Info($"I3D: {streams.Count} stream(s) ({string.Join(", ", streams.Select(s => s.Name))}), {Options.Backbone}, {numClasses} classes, {Options.Initialization} initialisation, {device.type}");
            Train(input, labelColumn, streamColumns.Select(s => s.Shape).ToArray(), streams, optimizers, channel);

            var info = I3DPredictionTransformer.Description.Of(Options.ScoreColumnName, Options.PredictedLabelColumnName, classes, streams);
            foreach (var o in optimizers) o.Dispose();
            return new I3DPredictionTransformer(_host, info, [.. streams]);
        }
        catch
        {
            foreach (var s in streams) s.Dispose();
            foreach (var o in optimizers) o.Dispose();
            throw;
        }
    }

    private void Train(IDataView input, DataViewSchema.Column labelColumn, long[][] shapes, List<StreamNetwork> streams, List<SGD> optimizers, IChannel channel)
    {
        int n = streams.Count;
        // What a resumed run must share with the interrupted one. Not: the epoch count (a run can be extended), where
        // checkpoints go and how often, the device and the thread count (where it runs: the weights are the same; a
        // different thread count only changes the last bits of the sums).
        string description = TrainingCheckpoint.Describe(
            ModelZipFormat.ToJson(Options with { Epochs = 0, CheckpointDirectory = null, CheckpointEverySteps = 0, Device = "auto", Threads = 0 }),
            [("label", labelColumn.Type.ToString() ?? ""), .. streams.Select(s => ($"stream.{s.Name}", s.Column)), .. shapes.Select((s, i) => ($"shape.{i}", string.Join("x", s)))]);
        string fingerprint = TrainingCheckpoint.FingerprintOf(description);
        var state = new TrainingCheckpoint
        {
            Fingerprint = fingerprint,
            Description = description,
            LearningRates = [.. Enumerable.Repeat(Options.LearningRate, n)],
            BestLosses = [.. Enumerable.Repeat(double.PositiveInfinity, n)],
            BadEpochs = new int[n],
            EpochLossSums = new double[n],
        };
        if (Options.CheckpointDirectory is { } dir && TrainingCheckpoint.TryRead(dir, fingerprint, description, streams, optimizers) is { } resumed)
        {
            state = resumed;
            channel.Info($"I3D: resuming from {TrainingCheckpoint.PathIn(dir)} at epoch {state.Epoch + 1}, row {state.RowsDone}, step {state.Step}");
        }

        for (int epoch = state.Epoch; epoch < Options.Epochs; epoch++)
        {
            SetLearningRates(optimizers, state.LearningRates);
            var trainLoss = RunPass(input, labelColumn, shapes, streams, epoch, training: true, state, optimizers, channel);
            var (validationLoss, validationAccuracy) = RunValidation(input, labelColumn, shapes, streams, epoch);
            // The epoch's SGD steps from its clips, those before an interruption included (every stream steps on every batch).
            int patience = Options.PatienceEpochs((state.EpochLossCount + Options.BatchSize - 1) / Options.BatchSize);
            for (int i = 0; i < n; i++)
            {
                // Section 3: the learning rate is reduced by a factor of 10 when the validation loss saturates
                // (with no validation rows, the training loss stands in).
                double loss = validationLoss?[i] ?? trainLoss[i];
                if (loss < state.BestLosses[i] - 1e-4) { state.BestLosses[i] = loss; state.BadEpochs[i] = 0; }
                else if (++state.BadEpochs[i] >= patience) { state.LearningRates[i] *= Options.LearningRateFactor; state.BadEpochs[i] = 0; }
                var report = new I3DTrainingProgress("epoch", epoch, Options.Epochs, state.Step, streams[i].Name, trainLoss[i], state.LearningRates[i], 0,
                    validationLoss?[i], validationAccuracy?[i]);
                channel.Info($"I3D: {report}");
                Options.Progress?.Report(report);
            }
            state.Epoch = epoch + 1;
            state.RowsDone = 0;
            state.EpochLossCount = 0;
            Array.Clear(state.EpochLossSums);
            state.Finished = state.Epoch >= Options.Epochs;
            if (Options.CheckpointDirectory is { } d) state.Write(d, streams, optimizers.Cast<OptimizerHelper>().ToList());
        }
        if (Options.BatchNormCalibrationClips > 0 && !Options.FixedFeatures) CalibrateBatchNorm(input, labelColumn, shapes, streams, channel);
        foreach (var s in streams) s.Module.eval();
    }

    /// <summary>
    /// "Precise BN": each BatchNorm's running mean and variance become the average of its batch statistics over the
    /// training clips (test protocol: what scoring will see), computed with the final weights. Batch k is weighted in
    /// with momentum 1/k, which makes the running values the exact mean over the batches.
    /// </summary>
    private void CalibrateBatchNorm(IDataView input, DataViewSchema.Column labelColumn, long[][] shapes, List<StreamNetwork> streams, IChannel channel)
    {
        var norms = streams.Select(s => s.Module.named_modules().Select(m => m.module).OfType<BatchNorm>().ToList()).ToList();
        var momenta = norms.Select(list => list.Select(bn => bn.momentum).ToList()).ToList();
        foreach (var list in norms) foreach (var bn in list) bn.reset_running_stats();
        int batches = 0, clips = 0;
        var batch = new Batch(streams.Count);
        void Forward()
        {
            batches++;
            using var _ = no_grad();
            for (int i = 0; i < streams.Count; i++)
            {
                foreach (var bn in norms[i]) bn.momentum = 1.0 / batches;
                streams[i].Module.train();
                using var scope = NewDisposeScope();
                var device = streams[i].Module.parameters().First().device;
                streams[i].Logits(Stack(batch.Clips[i], 0, batch.Labels.Count, shapes[i]).to(device));
            }
            batch.Clear();
        }
        foreach (var (label, clipsOfRow) in Rows(input, labelColumn, streams, trainingEpoch: null, validation: false, skipRows: 0))
        {
            if (label < 0) continue;
            int k = ClipsIn(clipsOfRow, shapes);
            for (int c = 0; c < k && clips < Options.BatchNormCalibrationClips; c++, clips++)
            {
                for (int i = 0; i < streams.Count; i++) batch.Clips[i].Add(Slice(clipsOfRow[i], c, shapes[i]));
                batch.Labels.Add(label);
                if (batch.Labels.Count >= Math.Max(2, Options.MicroBatch)) Forward();
            }
            if (clips >= Options.BatchNormCalibrationClips) break;
        }
        if (batch.Labels.Count > 1) Forward();
        for (int i = 0; i < streams.Count; i++)
            for (int j = 0; j < norms[i].Count; j++) norms[i][j].momentum = momenta[i][j];
        channel.Info($"I3D: BatchNorm statistics recomputed over {clips} training clips ({batches} batches) with the final weights");
    }

    /// <summary>One training pass: batches of clips from the training rows, one SGD step per batch and stream.</summary>
    private double[] RunPass(IDataView input, DataViewSchema.Column labelColumn, long[][] shapes, List<StreamNetwork> streams, int epoch, bool training,
        TrainingCheckpoint state, List<SGD> optimizers, IChannel channel)
    {
        int n = streams.Count;
        // The epoch's losses so far (restored after an interruption), so its mean covers every step.
        var lossSum = state.EpochLossSums;
        var batch = new Batch(n);
        var stopwatch = Stopwatch.StartNew();
        long clipsSeen = 0;

        void Step(long rowsDone)
        {
            var losses = TrainStep(streams, optimizers, shapes, batch, state.Step);
            for (int i = 0; i < n; i++) lossSum[i] += losses[i] * batch.Labels.Count;
            state.EpochLossCount += batch.Labels.Count;
            clipsSeen += batch.Labels.Count;
            state.Step++;
            state.RowsDone = rowsDone;
            batch.Clear();
            for (int i = 0; i < n; i++)
            {
                var report = new I3DTrainingProgress("train", epoch, Options.Epochs, state.Step, streams[i].Name, losses[i], state.LearningRates[i], clipsSeen / stopwatch.Elapsed.TotalSeconds);
                channel.Trace($"I3D: {report}");
                Options.Progress?.Report(report);
            }
            if (Options.CheckpointDirectory is { } dir && Options.CheckpointEverySteps > 0 && state.Step % Options.CheckpointEverySteps == 0)
                state.Write(dir, streams, optimizers.Cast<OptimizerHelper>().ToList());
        }

        long row = state.RowsDone;
        foreach (var (label, clips) in Rows(input, labelColumn, streams, trainingEpoch: epoch, validation: false, skipRows: state.RowsDone))
        {
            row++;
            if (label < 0) continue; // a validation row or one without a label
            int k = ClipsIn(clips, shapes);
            for (int c = 0; c < k; c++)
            {
                for (int i = 0; i < n; i++) batch.Clips[i].Add(Slice(clips[i], c, shapes[i]));
                batch.Labels.Add(label);
                if (batch.Labels.Count >= Options.BatchSize) Step(row);
            }
        }
        if (batch.Labels.Count > 0) Step(row);
        if (state.EpochLossCount == 0) throw new InvalidDataException("no training rows with a label: check the label column and ValidationFraction");
        return [.. lossSum.Select(s => s / state.EpochLossCount)];
    }

    private double[] TrainStep(List<StreamNetwork> streams, List<SGD> optimizers, long[][] shapes, Batch batch, long step)
    {
        var losses = new double[streams.Count];
        int total = batch.Labels.Count, micro = Options.MicroBatch;
        for (int i = 0; i < streams.Count; i++)
        {
            var stream = streams[i];
            if (Options.FixedFeatures) stream.Module.eval(); else stream.Module.train();
            var device = stream.Module.parameters().First().device;
            optimizers[i].zero_grad();
            for (int start = 0; start < total; start += micro)
            {
                int count = Math.Min(micro, total - start);
                using var scope = NewDisposeScope();
                // Dropout draws from a generator seeded by the step: a resumed run draws what the uninterrupted one did.
                manual_seed(Options.Seed * 1_000_003L + step * 31 + i * 7 + start);
                var x = Stack(batch.Clips[i], start, count, shapes[i]).to(device);
                var y = tensor(batch.Labels.Skip(start).Take(count).Select(l => (long)l).ToArray()).to(device);
                // Mixed precision (Options.Precision): the convolutions of this pass compute in bfloat16.
                using var mixed = MixedPrecision.Use(Options.Precision == TrainingPrecision.BFloat16 ? ScalarType.BFloat16 : null);
                var loss = stream.Loss(x, y).Times(count / (float)total);
                loss.backward();
                losses[i] += loss.item<float>();
            }
            optimizers[i].step();
        }
        return losses;
    }

    /// <summary>Mean loss and accuracy per stream over the validation rows; null when there are none.</summary>
    private (double[]? Loss, double[]? Accuracy) RunValidation(IDataView input, DataViewSchema.Column labelColumn, long[][] shapes, List<StreamNetwork> streams, int epoch)
    {
        if (Options.ValidationFraction <= 0) return (null, null);
        int n = streams.Count;
        var loss = new double[n];
        var correct = new double[n];
        long count = 0;
        foreach (var s in streams) s.Module.eval();
        using var _ = no_grad();
        foreach (var (label, clips) in Rows(input, labelColumn, streams, trainingEpoch: null, validation: true, skipRows: 0))
        {
            for (int i = 0; i < n; i++)
            {
                using var scope = NewDisposeScope();
                var device = streams[i].Module.parameters().First().device;
                var x = tensor(clips[i], shapes[i]).to(device);
                var logits = streams[i].Logits(x);
                var y = tensor(Enumerable.Repeat((long)label, (int)shapes[i][0]).ToArray(), device: device);
                loss[i] += nn.functional.cross_entropy(logits, y).item<float>();
                correct[i] += logits.mean([0]).argmax().item<long>() == label ? 1 : 0;
            }
            count++;
        }
        if (count == 0) return (null, null);
        return ([.. loss.Select(l => l / count)], [.. correct.Select(c => c / count)]);
    }

    /// <summary>
    /// The rows of one pass, in the epoch's shuffled order when the data can shuffle, each row decoded only when it
    /// belongs to the pass (validation rows: chosen by the row id and the seed, so the split is fixed across epochs).
    /// The training pass yields every row after the first <paramref name="skipRows"/> (those were trained on before an
    /// interruption and are not read), with label -1 for rows it does not train on, so rows can be counted.
    /// </summary>
    /// <param name="input">The training data.</param>
    /// <param name="labelColumn">The key column of labels.</param>
    /// <param name="streams">The streams whose clip columns are read.</param>
    /// <param name="validation">The held-out rows (true) or the training rows (false).</param>
    /// <param name="skipRows">Training rows already trained on in this epoch (resume).</param>
    /// <param name="trainingEpoch">For a training pass: clip columns that SampleClips wrote in Train or Auto mode are
    /// drawn from their video column by the training protocol of this epoch (section 3: random start, crop and flip;
    /// a new draw each epoch, the same draw for the same epoch). Null: every clip column as it is (Auto: the test protocol).</param>
    private IEnumerable<(int Label, float[][] Clips)> Rows(IDataView input, DataViewSchema.Column labelColumn, List<StreamNetwork> streams, int? trainingEpoch, bool validation, long skipRows)
    {
        var sampled = streams.Select(s => trainingEpoch is null ? null : TrainingSampling(input.Schema, input.Schema[s.Column])).ToArray();
        var columns = streams.Select((s, i) => sampled[i] is { } a ? input.Schema[a.Source] : input.Schema[s.Column]).Append(labelColumn).ToList();
        var random = input.CanShuffle ? new Random(unchecked(Options.Seed * 7919 + (trainingEpoch ?? Options.Epochs))) : null;
        using var cursor = input.GetRowCursor(columns, random);
        var getId = cursor.GetIdGetter();
        var getLabel = cursor.GetGetter<uint>(labelColumn);
        var getClips = streams.Select((s, i) => sampled[i] is null ? cursor.GetGetter<VBuffer<float>>(input.Schema[s.Column]) : null).ToArray();
        var getFrames = streams.Select((s, i) => sampled[i] is { } a ? cursor.GetGetter<VideoFrames>(input.Schema[a.Source]) : null).ToArray();
        var frames = VideoFrames.ForReading();
        var buffers = new VBuffer<float>[streams.Count];
        DataViewRowId id = default;
        uint label = 0;
        long missing = 0;
        for (long skipped = 0; skipped < skipRows && cursor.MoveNext(); skipped++)
        {
        }
        while (cursor.MoveNext())
        {
            getId(ref id);
            if (IsValidation(id) != validation) { if (!validation) yield return (-1, []); continue; }
            getLabel(ref label);
            if (label == 0) { missing++; if (!validation) yield return (-1, []); continue; }
            var clips = new float[streams.Count][];
            for (int i = 0; i < streams.Count; i++)
            {
                if (sampled[i] is { } a)
                {
                    getFrames[i]!(ref frames);
                    // Section 3: one clip per video per epoch, at a random start; the column's K evenly spaced clips are
                    // the test protocol (Table 1's test views), not K training clips.
                    ClipSampling.Sample(a.Options with { ClipsPerVideo = 1 }, frames, id, training: true, trainingEpoch!.Value, ref buffers[i]);
                }
                else getClips[i]!(ref buffers[i]);
                clips[i] = buffers[i].DenseValues().ToArray();
                Inference.ClipTensor.Validate(clips[i], $"row {cursor.Position} ({streams[i].Name} clip)");
            }
            yield return ((int)label - 1, clips);
        }
        if (missing > 0) _host.Start("I3D training").Warning($"I3D: {missing} rows without a label (a value the label map does not know) were skipped");
    }

    /// <summary>How to draw a training pass's clips for <paramref name="clips"/>: the sampler's annotation when
    /// SampleClips wrote the column in Train or Auto mode and its video column is in the data; else null (read as is).</summary>
    private static ClipSamplingAnnotation? TrainingSampling(DataViewSchema schema, DataViewSchema.Column clips)
        => ClipSamplingAnnotation.Of(clips) is { Options.Mode: ClipSamplingMode.Train or ClipSamplingMode.Auto } a
            && schema.GetColumnOrNull(a.Source) is { Type: VideoDataViewType }
            ? a : null;

    private bool IsValidation(DataViewRowId id)
    {
        if (Options.ValidationFraction <= 0) return false;
        ulong h = id.Low ^ (id.High * 0x9E3779B97F4A7C15UL) ^ (ulong)(uint)Options.Seed * 0xBF58476D1CE4E5B9UL;
        h ^= h >> 31; h *= 0x94D049BB133111EBUL; h ^= h >> 29;
        return (h % 10_000) < Options.ValidationFraction * 10_000;
    }

    private static void SetLearningRates(List<SGD> optimizers, double[] rates)
    {
        for (int i = 0; i < optimizers.Count; i++)
            foreach (var group in optimizers[i].ParamGroups) group.LearningRate = rates[i];
    }

    private static DataViewSchema.Column Column(IDataView input, string name)
        => input.Schema.GetColumnOrNull(name) ?? throw new ArgumentException($"the training data has no clip column '{name}'");

    private static string[] ClassNames(DataViewSchema.Column label, int count)
    {
        if (label.Annotations.Schema.GetColumnOrNull(AnnotationUtils.Kinds.KeyValues) is { } kv && kv.Type is VectorDataViewType { ItemType: TextDataViewType })
        {
            var names = default(VBuffer<ReadOnlyMemory<char>>);
            label.GetKeyValues(ref names);
            var result = names.DenseValues().Select(n => n.ToString()).ToArray();
            if (result.Length == count) return result;
        }
        return [.. Enumerable.Range(0, count).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))];
    }

    /// <summary>Clips in a row's clip arrays (one per stream, each of clips of (C, T, H, W) = its shape's last four): one
    /// for clips the trainer drew, the column's K for clips read as they are; the fewest where streams differ.</summary>
    private static int ClipsIn(float[][] clips, long[][] shapes)
        => clips.Select((c, i) => (int)(c.Length / ClipSize(shapes[i]))).Min();

    /// <summary>Clip <paramref name="index"/> of a row's clip array whose clips have <paramref name="shape"/>'s last four dimensions.</summary>
    private static float[] Slice(float[] clips, int index, long[] shape)
    {
        int size = (int)ClipSize(shape);
        return clips.AsSpan(index * size, size).ToArray();
    }

    private static long ClipSize(long[] shape) => shape[1] * shape[2] * shape[3] * shape[4];

    private static Tensor Stack(List<float[]> clips, int start, int count, long[] shape)
    {
        int size = clips[start].Length;
        var data = new float[(long)size * count];
        for (int i = 0; i < count; i++) clips[start + i].CopyTo(data, (long)i * size);
        return tensor(data, [count, shape[1], shape[2], shape[3], shape[4]]);
    }

    private sealed class Batch(int streams)
    {
        public List<float[]>[] Clips { get; } = [.. Enumerable.Range(0, streams).Select(_ => new List<float[]>())];
        public List<int> Labels { get; } = [];

        public void Clear()
        {
            foreach (var c in Clips) c.Clear();
            Labels.Clear();
        }
    }
}
