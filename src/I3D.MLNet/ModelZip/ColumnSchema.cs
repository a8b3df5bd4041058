using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace I3D.MLNet.ModelZip;

/// <summary>The schema propagation every one-to-one estimator of ours does: check each input column, add its output.</summary>
internal static class ColumnSchema
{
    /// <param name="host">The estimator's host (its exceptions name the estimator).</param>
    /// <param name="inputSchema">The schema coming in.</param>
    /// <param name="columns">(output, input) column pairs.</param>
    /// <param name="role">What the input column is, for messages ("video path", "RGB video", ...).</param>
    /// <param name="expected">The type the input must have, for messages.</param>
    /// <param name="accepts">Whether a (scalar) input column fits.</param>
    /// <param name="output">The output column for an accepted input column.</param>
    public static SchemaShape Map(IHost host, SchemaShape inputSchema, IEnumerable<(string outputColumnName, string inputColumnName)> columns,
        string role, string expected, Func<SchemaShape.Column, bool> accepts, Func<string, SchemaShape.Column, SchemaShape.Column> output)
    {
        var result = inputSchema.ToDictionary(x => x.Name);
        foreach (var (outputName, inputName) in columns)
        {
            if (!inputSchema.TryFindColumn(inputName, out var col))
                throw host.ExceptSchemaMismatch(nameof(inputSchema), role, inputName);
            if (col.Kind != SchemaShape.Column.VectorKind.Scalar || !accepts(col))
                throw host.ExceptSchemaMismatch(nameof(inputSchema), role, inputName, expected, col.GetTypeString());
            result[outputName] = output(outputName, col);
        }
        return new SchemaShape(result.Values);
    }
}
