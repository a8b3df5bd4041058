using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace I3D.MLNet.ModelZip;

/// <summary>
/// A one-to-one transformer whose whole state is its column pairs and an options record: it saves both into a model zip
/// (the options as JSON, see <see cref="ModelZipFormat"/>) and reads them back. Each derived transformer still declares
/// its own <c>[assembly: LoadableClass]</c> and static <c>Create</c> factories, which ML.NET finds by reflection.
/// </summary>
public abstract class OptionsTransformerBase<TOptions> : OneToOneTransformerBase
    where TOptions : class
{
    /// <summary>The options the transformer was made with (what its model zip stores).</summary>
    public TOptions Options { get; }

    /// <summary>The (output, input) column pairs.</summary>
    public IReadOnlyCollection<(string outputColumnName, string inputColumnName)> Columns => ColumnPairs.AsReadOnly();

    internal OptionsTransformerBase(IHost host, TOptions options, (string outputColumnName, string inputColumnName)[] columns)
        : base(host, columns)
    {
        Options = options;
    }

    internal OptionsTransformerBase(IHost host, ModelLoadContext ctx)
        : base(host, ModelZipFormat.ReadColumns(ctx, typeof(TOptions).Name))
    {
        Options = WhatTheModelIs(ModelZipFormat.ReadOptions<TOptions>(ctx));
    }

    /// <summary>The options without the settings of the machine they were made on (cache folders, thread counts):
    /// what is saved, and what is kept of an older zip that saved them. Those come from the loading side.</summary>
    private protected virtual TOptions WhatTheModelIs(TOptions options) => options;

    /// <summary>The format version (model and loader signatures) written into the zip.</summary>
    private protected abstract VersionInfo Version { get; }

    /// <inheritdoc/>
    protected override void SaveModel(ModelSaveContext ctx)
    {
        ctx.CheckAtModel();
        ctx.SetVersionInfo(Version);
        SaveColumns(ctx);
        ModelZipFormat.WriteOptions(ctx, WhatTheModelIs(Options));
    }
}
