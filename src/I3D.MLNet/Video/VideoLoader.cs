using I3D.MLNet.ModelZip;
using I3D.MLNet.Video;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

[assembly: LoadableClass(typeof(VideoLoadingTransformer), null, typeof(SignatureLoadModel), "Video Loading Transformer", VideoLoadingTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(IRowMapper), typeof(VideoLoadingTransformer), null, typeof(SignatureLoadRowMapper), "Video Loading Transformer", VideoLoadingTransformer.LoaderSignature)]

namespace I3D.MLNet.Video;

/// <summary>What to do with a row whose video cannot be decoded.</summary>
public enum InvalidVideoHandling
{
    /// <summary>Stop with an exception that names the file (default).</summary>
    Throw,

    /// <summary>Give the row an empty video (0 frames) and count it in the log; downstream steps
    /// (<c>SampleClips</c>, the trainer, <c>VideoDataViews.SkipEmptyVideos</c>) skip or reject such rows.</summary>
    Skip,
}

/// <summary>Where LoadVideo runs the decoder.</summary>
public enum VideoDecodeIsolation
{
    /// <summary>In this process (default; the fastest).</summary>
    InProcess,

    /// <summary>In a child process per cursor (I3D.MLNet.VideoWorker), so that a malformed file that makes FFmpeg crash,
    /// hang or allocate without bound is an error naming the file (a skipped row with <see cref="InvalidVideoHandling.Skip"/>),
    /// not the end of the process. Costs a copy of the frames through a pipe (about 1 ms per MB) and 0.2 s per cursor.</summary>
    WorkerProcess,
}

/// <summary>Options of <see cref="VideoLoadingEstimator"/>; see <see cref="VideoDecodeOptions"/> for the decoding ones.</summary>
public sealed record VideoLoaderOptions
{
    /// <summary>How frames are decoded: rate, size, time window.</summary>
    public VideoDecodeOptions Decode { get; init; } = new();

    /// <summary>Folder that relative paths are resolved against; <c>null</c> for the current directory.</summary>
    public string? VideoFolder { get; init; }

    /// <summary>Throw on an undecodable video (default) or skip it.</summary>
    public InvalidVideoHandling OnInvalidVideo { get; init; } = InvalidVideoHandling.Throw;

    /// <summary>Decode in this process (default) or in a worker process that a malformed file cannot crash.</summary>
    public VideoDecodeIsolation Isolation { get; init; } = VideoDecodeIsolation.InProcess;

    /// <summary>Which FFmpeg decodes: <see cref="VideoDecoderBackend.Auto"/> (default) takes the system's FFmpeg libraries
    /// where they can be used, else OpenCV's. A setting of the machine: not saved in the model zip (a loaded model
    /// decodes with <see cref="VideoDecoderBackend.Auto"/>).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public VideoDecoderBackend Decoder { get; init; } = VideoDecoderBackend.Auto;

    /// <summary>With <see cref="VideoDecodeIsolation.WorkerProcess"/>: the longest one video may take to decode before the
    /// worker is stopped and the video counts as undecodable, in seconds. Default 600.</summary>
    public double WorkerTimeoutSeconds { get; init; } = 600;

    /// <summary>With <see cref="VideoDecodeIsolation.WorkerProcess"/>: the most resident memory the worker may use, in MB,
    /// frames included (a 10 s video at 25 fps and 256 x 340 is 65 MB). Default 8192.</summary>
    public int WorkerMemoryLimitMegabytes { get; init; } = 8192;

    internal void Validate()
    {
        (Decode ?? throw new InvalidDataException("the video loader has no decoding options")).Validate();
        if (!(WorkerTimeoutSeconds > 0) || double.IsInfinity(WorkerTimeoutSeconds)) throw new ArgumentOutOfRangeException(nameof(WorkerTimeoutSeconds), WorkerTimeoutSeconds, "the worker's time limit must be a finite number of seconds > 0");
        if (WorkerMemoryLimitMegabytes < 64) throw new ArgumentOutOfRangeException(nameof(WorkerMemoryLimitMegabytes), WorkerMemoryLimitMegabytes, "the worker's memory limit must be at least 64 MB");
    }

    internal VideoDecodeWorker NewWorker() => new(TimeSpan.FromSeconds(WorkerTimeoutSeconds), (long)WorkerMemoryLimitMegabytes << 20);
}

/// <summary>
/// Decodes the video whose path is in a text column into a <see cref="VideoDataViewType"/> column. Decoding is lazy:
/// it happens inside the cursor, one row at a time, into a buffer that the cursor reuses, so memory does not grow with
/// the number of videos. With <see cref="InvalidVideoHandling.Skip"/>, <see cref="Transform"/> drops the rows whose
/// video does not decode (so a training pipeline's later steps never see them); a single row (a PredictionEngine) gets an
/// empty video instead, which the next step refuses naming the file.
/// </summary>
public sealed class VideoLoadingTransformer : OptionsTransformerBase<VideoLoaderOptions>, ITransformer
{
    internal const string LoaderSignature = "I3DVideoLoader";

    // Zip layout (OptionsTransformerBase): the column pairs, then VideoLoaderOptions as one JSON string; checked on load.
    // Versions: 0x00010001 (first). Options added since read back with their defaults from older zips: Isolation,
    // WorkerTimeoutSeconds, WorkerMemoryLimitMegabytes (decoding in a worker process).
    private static VersionInfo GetVersionInfo() => ModelZipFormat.Version("I3DVIDLD", LoaderSignature, typeof(VideoLoadingTransformer));

    internal VideoLoadingTransformer(IHostEnvironment env, VideoLoaderOptions options, params (string outputColumnName, string inputColumnName)[] columns)
        : base(Contracts.CheckRef(env, nameof(env)).Register(nameof(VideoLoadingTransformer)), options, columns)
    {
        options.Validate();
    }

    private VideoLoadingTransformer(IHost host, ModelLoadContext ctx)
        : base(host, ctx)
    {
        Options.Validate();
    }

    // Factory for SignatureLoadModel.
    private static VideoLoadingTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        ctx.CheckAtModel(GetVersionInfo());
        return new VideoLoadingTransformer(env.Register(nameof(VideoLoadingTransformer)), ctx);
    }

    // Factory for SignatureLoadRowMapper.
    private static IRowMapper Create(IHostEnvironment env, ModelLoadContext ctx, DataViewSchema inputSchema)
        => Create(env, ctx).MakeRowMapper(inputSchema);

    /// <inheritdoc/>
    protected override void CheckInputColumn(DataViewSchema inputSchema, int col, int srcCol)
    {
        if (inputSchema[srcCol].Type is not TextDataViewType)
            throw Host.ExceptSchemaMismatch(nameof(inputSchema), "video path", ColumnPairs[col].inputColumnName, TextDataViewType.Instance.ToString(), inputSchema[srcCol].Type.ToString());
    }

    private protected override VersionInfo Version => GetVersionInfo();

    /// <summary>The decoded videos of <paramref name="input"/>; with <see cref="InvalidVideoHandling.Skip"/>, only the rows
    /// whose first video column decodes (each skipped one is a warning in the log).</summary>
    public new IDataView Transform(IDataView input)
    {
        var decoded = base.Transform(input);
        return Options.OnInvalidVideo == InvalidVideoHandling.Skip ? new EmptyVideoFilter(decoded, ColumnPairs[0].outputColumnName) : decoded;
    }

    IDataView ITransformer.Transform(IDataView input) => Transform(input);

    /// <inheritdoc/>
    protected override IRowMapper MakeRowMapper(DataViewSchema schema) => new Mapper(this, schema);

    /// <summary>Decodes one path (resolved against <see cref="VideoLoaderOptions.VideoFolder"/>) into <paramref name="frames"/>,
    /// in this process or in <paramref name="worker"/> (<see cref="VideoLoaderOptions.Isolation"/>).</summary>
    internal void DecodeInto(string path, VideoFrames frames, VideoDecodeWorker? worker)
    {
        string full = Options.VideoFolder is { Length: > 0 } folder && !Path.IsPathRooted(path) ? Path.Combine(folder, path) : path;
        if (worker != null)
        {
            worker.Decode(full, Options.Decode, Options.Decoder, frames);
            return;
        }
        using var decoder = VideoDecoder.Open(full, Options.Decoder);
        decoder.Decode(Options.Decode, frames);
    }

    private sealed class Mapper : OneToOneMapperBase
    {
        private readonly VideoLoadingTransformer _owner;
        private int _skipped, _saidBackend;

        /// <summary>Once per mapper: a line in the log when OpenCV's FFmpeg decodes because the system's cannot, and why.</summary>
        private void SayWhenOpenCvDecodes()
        {
            if (FFmpegLibraries.Problem is not { } problem || VideoDecoder.ResolveBackend(_owner.Options.Decoder) != VideoDecoderBackend.OpenCv
                || Interlocked.Exchange(ref _saidBackend, 1) == 1) return;
            using var channel = Host.Start("LoadVideo");
            channel.Info($"LoadVideo: decoding with OpenCV's bundled FFmpeg (about half the speed on H.264) because {problem}; {NativeDependencies.InstallHint} installs the system's");
        }

        public Mapper(VideoLoadingTransformer parent, DataViewSchema inputSchema)
            : base(parent.Host.Register(nameof(Mapper)), parent, inputSchema)
        {
            _owner = parent;
        }

        protected override DataViewSchema.DetachedColumn[] GetOutputColumnsCore()
            => _owner.ColumnPairs.Select(c => new DataViewSchema.DetachedColumn(c.outputColumnName, VideoDataViewType.Rgb, null)).ToArray();

        protected override Delegate MakeGetter(DataViewRow input, int iinfo, Func<int, bool> activeOutput, out Action? disposer)
        {
            SayWhenOpenCvDecodes();
            // One worker per cursor (getters are not shared between threads), ended with the cursor.
            var worker = _owner.Options.Isolation == VideoDecodeIsolation.WorkerProcess ? _owner.Options.NewWorker() : null;
            disposer = worker == null ? null : worker.Dispose;
            var getPath = input.GetGetter<ReadOnlyMemory<char>>(input.Schema[ColMapNewToOld[iinfo]]);
            ReadOnlyMemory<char> path = default;
            // One decode per cursor row, shared by every consumer of the row (clip sampler, optical flow).
            return VideoFrames.CachedPerRow(input, decoded =>
            {
                getPath(ref path);
                string p = path.ToString();
                try
                {
                    _owner.DecodeInto(p, decoded, worker);
                }
                catch (VideoDecodeException e) when (_owner.Options.OnInvalidVideo == InvalidVideoHandling.Skip)
                {
                    int skipped = Interlocked.Increment(ref _skipped);
                    using var channel = Host.Start("LoadVideo");
                    channel.Warning($"LoadVideo: skipping row {input.Position} ({skipped} skipped so far): {e.Message}");
                    decoded.Reset(FrameElementKind.Rgb24, 0, 0, 0);
                    decoded.Source = p;
                }
                catch (VideoDecodeException e)
                {
                    throw new VideoDecodeException(e.Path, $"{e.Problem} (row {input.Position} of column '{_owner.ColumnPairs[iinfo].inputColumnName}')", e.InnerException);
                }
            });
        }
    }
}

/// <summary>Estimator for <see cref="VideoLoadingTransformer"/> (<c>mlContext.Transforms.LoadVideo</c>); nothing to learn.</summary>
public sealed class VideoLoadingEstimator : TrivialEstimator<VideoLoadingTransformer>
{
    internal VideoLoadingEstimator(IHostEnvironment env, VideoLoaderOptions options, params (string outputColumnName, string inputColumnName)[] columns)
        : base(Contracts.CheckRef(env, nameof(env)).Register(nameof(VideoLoadingEstimator)), new VideoLoadingTransformer(env, options, columns))
    {
    }

    /// <inheritdoc/>
    public override SchemaShape GetOutputSchema(SchemaShape inputSchema)
        => ColumnSchema.Map(Host, inputSchema, Transformer.Columns, "video path", TextDataViewType.Instance.ToString(),
            col => col.ItemType is TextDataViewType,
            (name, _) => new SchemaShape.Column(name, SchemaShape.Column.VectorKind.Scalar, VideoDataViewType.Rgb, false));
}
