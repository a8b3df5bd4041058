using I3D.MLNet.ModelZip;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace I3D.MLNet.Clips;

/// <summary>
/// What a clip column of <c>SampleClips</c> says about itself, as an annotation of kind <see cref="Kind"/> (JSON text):
/// the video column it samples and the sampler's options. The I3D trainer reads it to draw each epoch's training clips
/// from that video column with <see cref="ClipSampling"/>, passing its epoch explicitly.
/// </summary>
internal sealed record ClipSamplingAnnotation(string Source, ClipSamplerOptions Options)
{
    public const string Kind = "I3D.ClipSampling";

    public DataViewSchema.Annotations ToAnnotations()
    {
        var text = ModelZipFormat.ToJson(this).AsMemory();
        var builder = new DataViewSchema.Annotations.Builder();
        builder.Add(Kind, TextDataViewType.Instance, (ref ReadOnlyMemory<char> value) => value = text);
        return builder.ToAnnotations();
    }

    /// <summary>The annotation of <paramref name="column"/>, or null when it was not written by SampleClips.</summary>
    public static ClipSamplingAnnotation? Of(DataViewSchema.Column column)
    {
        if (column.Annotations.Schema.GetColumnOrNull(Kind) is not { Type: TextDataViewType } annotation) return null;
        ReadOnlyMemory<char> text = default;
        column.Annotations.GetValue(Kind, ref text);
        return ModelZipFormat.FromJson<ClipSamplingAnnotation>(text.ToString());
    }
}
