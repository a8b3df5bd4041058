using I3D.MLNet.Flow;
using I3D.MLNet.ModelZip;
using I3D.MLNet.Video;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

[assembly: LoadableClass(typeof(OpticalFlowTransformer), null, typeof(SignatureLoadModel), "Optical Flow Transformer", OpticalFlowTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(IRowMapper), typeof(OpticalFlowTransformer), null, typeof(SignatureLoadRowMapper), "Optical Flow Transformer", OpticalFlowTransformer.LoaderSignature)]

namespace I3D.MLNet.Flow;

/// <summary>
/// Maps an RGB video column (<see cref="VideoDataViewType.Rgb"/>) to an optical-flow video column
/// (<see cref="VideoDataViewType.Flow"/>) with the same frame count, size and frame rate (see
/// <see cref="OpticalFlow.Compute(VideoFrames, FlowOptions?, FlowCache?, CancellationToken)"/>), computed lazily in the
/// cursor, one row at a time, read from the on-disk cache when <see cref="FlowOptions.CacheDirectory"/> is set.
/// </summary>
public sealed class OpticalFlowTransformer : OptionsTransformerBase<FlowOptions>
{
    internal const string LoaderSignature = "I3DOpticalFlow"; // at most 24 characters

    // Zip layout (OptionsTransformerBase): the column pairs (ML.NET's OneToOneTransformerBase), then FlowOptions as one
    // JSON string. Versions: 0x00010001 saved every option, CacheDirectory and MaxDegreeOfParallelism included (loading
    // created the cache folder on the new machine); 0x00010002 saves neither (read back as null and 0, also from old
    // zips): where flow is cached and how many cores compute it belong to the machine that loads the zip.
    private static VersionInfo GetVersionInfo() => ModelZipFormat.Version("I3DFLOWX", LoaderSignature, typeof(OpticalFlowTransformer), current: 0x00010002);

    private protected override FlowOptions WhatTheModelIs(FlowOptions options) => options with { CacheDirectory = null, MaxDegreeOfParallelism = 0 };

    /// <summary>The cache used (null without <see cref="FlowOptions.CacheDirectory"/>); its counters show hits and computations.</summary>
    public FlowCache? Cache { get; }

    internal OpticalFlowTransformer(IHostEnvironment env, FlowOptions options, params (string outputColumnName, string inputColumnName)[] columns)
        : base(Contracts.CheckRef(env, nameof(env)).Register(nameof(OpticalFlowTransformer)), options, columns)
    {
        options.Validate();
        Cache = options.CacheDirectory is { Length: > 0 } directory ? FlowCache.Open(directory) : null;
    }

    private OpticalFlowTransformer(IHost host, ModelLoadContext ctx)
        : base(host, ctx)
    {
        Options.Validate();
        Cache = Options.CacheDirectory is { Length: > 0 } directory ? FlowCache.Open(directory) : null;
    }

    // Factory for SignatureLoadModel.
    private static OpticalFlowTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        ctx.CheckAtModel(GetVersionInfo());
        return new OpticalFlowTransformer(env.Register(nameof(OpticalFlowTransformer)), ctx);
    }

    // Factory for SignatureLoadRowMapper.
    private static IRowMapper Create(IHostEnvironment env, ModelLoadContext ctx, DataViewSchema inputSchema)
        => Create(env, ctx).MakeRowMapper(inputSchema);

    /// <inheritdoc/>
    protected override void CheckInputColumn(DataViewSchema inputSchema, int col, int srcCol)
    {
        if (!inputSchema[srcCol].Type.Equals(VideoDataViewType.Rgb))
            throw Host.ExceptSchemaMismatch(nameof(inputSchema), "RGB video", ColumnPairs[col].inputColumnName, VideoDataViewType.Rgb.ToString(), inputSchema[srcCol].Type.ToString());
    }

    private protected override VersionInfo Version => GetVersionInfo();

    /// <inheritdoc/>
    protected override IRowMapper MakeRowMapper(DataViewSchema schema) => new Mapper(this, schema);

    private sealed class Mapper : OneToOneMapperBase
    {
        private readonly OpticalFlowTransformer _owner;

        public Mapper(OpticalFlowTransformer parent, DataViewSchema inputSchema)
            : base(parent.Host.Register(nameof(Mapper)), parent, inputSchema)
        {
            _owner = parent;
        }

        protected override DataViewSchema.DetachedColumn[] GetOutputColumnsCore()
            => _owner.ColumnPairs.Select(c => new DataViewSchema.DetachedColumn(c.outputColumnName, VideoDataViewType.Flow, null)).ToArray();

        protected override Delegate MakeGetter(DataViewRow input, int iinfo, Func<int, bool> activeOutput, out Action? disposer)
        {
            disposer = null;
            var getFrames = input.GetGetter<VideoFrames>(input.Schema[ColMapNewToOld[iinfo]]);
            VideoFrames? rgb = VideoFrames.ForReading();
            // One flow per cursor row, shared by every consumer of the row; each gets a copy.
            return VideoFrames.CachedPerRow(input, flow =>
            {
                getFrames(ref rgb!);
                if (rgb is null || rgb.FrameCount == 0)
                {
                    // A video that LoadVideo skipped stays empty (SkipEmptyVideos drops the row).
                    flow.Reset(FrameElementKind.Flow, 0, 0, 0);
                    flow.Source = rgb?.Source;
                    return;
                }
                try
                {
                    OpticalFlow.Compute(rgb, flow, _owner.Options, _owner.Cache);
                }
                catch (ArgumentException e)
                {
                    throw new InvalidOperationException($"ExtractOpticalFlow: row {input.Position} of column '{_owner.ColumnPairs[iinfo].inputColumnName}': {e.Message}", e);
                }
                // A cache entry that could not be written (a full disk) is not an error, but is said once.
                if (_owner.Cache?.TakeWriteFailureReport() is { } failure)
                {
                    using var channel = Host.Start(nameof(FlowCache));
                    channel.Warning($"ExtractOpticalFlow: {failure}");
                }
            });
        }
    }
}

/// <summary>Estimator for <see cref="OpticalFlowTransformer"/> (<c>mlContext.Transforms.ExtractOpticalFlow</c>); nothing to learn.</summary>
public sealed class OpticalFlowEstimator : TrivialEstimator<OpticalFlowTransformer>
{
    internal OpticalFlowEstimator(IHostEnvironment env, FlowOptions options, params (string outputColumnName, string inputColumnName)[] columns)
        : base(Contracts.CheckRef(env, nameof(env)).Register(nameof(OpticalFlowEstimator)), new OpticalFlowTransformer(env, options, columns))
    {
    }

    /// <inheritdoc/>
    public override SchemaShape GetOutputSchema(SchemaShape inputSchema)
        => ColumnSchema.Map(Host, inputSchema, Transformer.Columns, "RGB video", VideoDataViewType.Rgb.ToString(),
            col => col.ItemType.Equals(VideoDataViewType.Rgb),
            (name, _) => new SchemaShape.Column(name, SchemaShape.Column.VectorKind.Scalar, VideoDataViewType.Flow, false));
}
