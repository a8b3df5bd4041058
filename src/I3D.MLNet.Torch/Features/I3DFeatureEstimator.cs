using I3D.MLNet.Scoring;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace I3D.MLNet.Torch.Features;

/// <summary>Estimator of <c>mlContext.Transforms.ExtractI3DFeatures</c> (<see cref="I3DFeatureTransformer"/>); nothing to learn.</summary>
public sealed class I3DFeatureEstimator : TrivialEstimator<I3DFeatureTransformer>
{
    internal I3DFeatureEstimator(IHostEnvironment env, I3DFeatureExtractorOptions options)
        : base(Contracts.CheckRef(env, nameof(env)).Register(nameof(I3DFeatureEstimator)), I3DFeatureTransformer.Create(env, options))
    {
    }

    /// <inheritdoc/>
    public override SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        var (output, input) = Transformer.Columns.Single();
        ClipColumns.CheckSchemaShape(Host, inputSchema, input);
        var result = inputSchema.ToDictionary(c => c.Name);
        result[output] = new SchemaShape.Column(output, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false);
        return new SchemaShape(result.Values);
    }
}
