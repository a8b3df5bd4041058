using I3D.MLNet.Scoring;
using I3D.MLNet.Tests.Shared;
using I3D.MLNet.Torch.Features;
using I3D.MLNet.Torch.Models;
using I3D.MLNet.Torch.Tests.Hardening;
using I3D.MLNet.Torch.Tests.Training;
using I3D.MLNet.Torch.Training;
using I3D.MLNet.Torch.Weights;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;
using static I3D.MLNet.Torch.Tests.Onnx.OnnxTestNetworks;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Tests.Features;

/// <summary>
/// <c>mlContext.Transforms.ExtractI3DFeatures</c>: its vectors are InceptionI3d's features of the row's clips (against the
/// float32 network and a float64 copy, rows of two clips, averaged and per clip, several endpoints), a model zip gives the
/// same vectors back, PredictionEngine disposal is clear, and wrong columns, weights or endpoints are one-line errors.
/// </summary>
public sealed class FeatureExtractionTests
{
    private const int Clips = 2, Frames = 8, Size = 32, Rows = 3;

    public sealed class Row
    {
        public float[] Clip { get; set; } = [];
    }

    public sealed class ScalarRow
    {
        public float Clip { get; set; }
    }

    public sealed class Featurized
    {
        public float[] Features { get; set; } = [];
    }

    private static SchemaDefinition Schema(int channels)
    {
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.Clip)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, Clips, channels, Frames, Size, Size);
        return schema;
    }

    private static List<Row> MakeRows(int channels, int seed)
    {
        var random = new Random(seed);
        // Rows of different brightness (noise alone averages out in pooled features).
        return [.. Enumerable.Range(0, Rows).Select(r => new Row
        {
            Clip = [.. Enumerable.Range(0, Clips * channels * Frames * Size * Size).Select(_ => (float)Math.Clamp((r - 1) * 0.4 + random.NextDouble() - 0.5, -1, 1))],
        })];
    }

    private static IDataView Data(MLContext ml, int channels, int seed = 1) => ml.Data.LoadFromEnumerable(MakeRows(channels, seed), Schema(channels));

    /// <summary>A random InceptionI3d (5 classes) with non-trivial BatchNorm statistics, as a pytorch-i3d state_dict file.</summary>
    internal static string RandomWeights(int channels, int seed)
    {
        string path = Path.Combine(TrainerTests.Temp("features"), $"i3d-{channels}.pt");
        manual_seed(seed);
        using var net = RandomizeBatchNorms(new InceptionI3d(5, channels), seed);
        ModuleWeights.Save(net, path);
        return path;
    }

    private static float[][] Column(IDataView view, string name) => [.. view.GetColumn<float[]>(name)];

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        double error = TestPaths.RelativeL2(tensor(actual), tensor(expected));
        Assert.True(error < 1e-6, $"relative L2 {error:E2}");
    }

    [Fact]
    public void FeaturesAreInceptionI3dFeaturesOfTheRowsClipsAveragedAndPerClip()
    {
        string weights = RandomWeights(3, seed: 11);
        var ml = new MLContext(1);
        var data = Data(ml, 3);
        var pipeline = ml.Transforms.ExtractI3DFeatures(new I3DFeatureExtractorOptions { InputColumnName = "Clip", WeightsPath = weights, Device = "cpu" })
            .Append(ml.Transforms.ExtractI3DFeatures(new I3DFeatureExtractorOptions { InputColumnName = "Clip", OutputColumnName = "PerClip", WeightsPath = weights, PerClip = true, Device = "cpu" }));
        using var model = pipeline.Fit(data);
        var output = model.Transform(data);
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, InceptionI3d.FeatureChannels), output.Schema["Features"].Type);
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, Clips, InceptionI3d.FeatureChannels), output.Schema["PerClip"].Type);
        var averaged = Column(output, "Features");
        var perClip = Column(output, "PerClip");

        using var net = ModuleWeights.LoadInceptionI3d(weights);
        using var net64 = ModuleWeights.LoadInceptionI3d(weights);
        net64.to(ScalarType.Float64);
        var rows = MakeRows(3, 1);
        Assert.Equal(Rows, averaged.Length);
        for (int r = 0; r < Rows; r++)
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var x = tensor(rows[r].Clip, [Clips, 3, Frames, Size, Size]);
            var expected = net.Features(x);                           // (clips, 1024), float32
            var expected64 = net64.Features(x.to(ScalarType.Float64)); // the float64 judge
            Assert.True(TestPaths.RelativeL2(tensor(perClip[r], [Clips, InceptionI3d.FeatureChannels]), expected) < 1e-6, $"row {r}: per clip vs InceptionI3d.Features");
            Assert.True(TestPaths.RelativeL2(tensor(averaged[r]), expected.mean([0])) < 1e-6, $"row {r}: averaged vs InceptionI3d.Features");
            double vs64 = TestPaths.RelativeL2(tensor(averaged[r]), expected64.mean([0]));
            Assert.True(vs64 < 1e-5, $"row {r}: averaged features {vs64:E2} off float64");
            // Per clip and averaged agree: the mean of the per-clip vectors is the averaged vector.
            Assert.True(TestPaths.RelativeL2(tensor(perClip[r], [Clips, InceptionI3d.FeatureChannels]).mean([0]), tensor(averaged[r])) < 1e-6);
        }
        double rows01 = TestPaths.RelativeL2(tensor(averaged[0]), tensor(averaged[1]));
        // Pooled features of a random network vary little between inputs (measured 9.5e-5 here), but 10x more than the
        // 1e-6 tolerance above: a row mixed up with another would fail those checks.
        Assert.True(rows01 > 1e-5, $"different rows, different features: {rows01:E2}");
    }

    /// <summary>Any endpoint, pooled over time and space (Logits: the time-averaged logits, InceptionI3d's forward).</summary>
    [Theory]
    [InlineData("Conv3d_1a_7x7", 64)]
    [InlineData("Mixed_4f", 832)]
    [InlineData("Logits", 5)]
    public void AnEndpointIsPooledToOneVectorPerClip(string endpoint, int dimensions)
    {
        string weights = RandomWeights(2, seed: 12);
        using var network = I3DFeatureNetwork.FromWeights(weights, VideoStream.Flow, endpoint, "cpu");
        Assert.Equal(dimensions, network.Dimensions);
        var rows = MakeRows(2, 2);
        long[] shape = [Clips, 2, Frames, Size, Size];
        float[] perClip = network.Extract(rows[0].Clip, shape, perClip: true);
        float[] averaged = network.Extract(rows[0].Clip, shape);
        Assert.Equal(Clips * dimensions, perClip.Length);
        Assert.Equal(dimensions, averaged.Length);

        using var net = ModuleWeights.LoadInceptionI3d(weights);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = tensor(rows[0].Clip, shape);
        var expected = endpoint == "Logits" ? net.forward(x) : net.Endpoint(x, endpoint).mean([2, 3, 4]);
        Assert.True(TestPaths.RelativeL2(tensor(perClip, [Clips, dimensions]), expected) < 1e-6);
        Assert.True(TestPaths.RelativeL2(tensor(averaged), expected.mean([0])) < 1e-6);
    }

    [Fact]
    public void AModelZipGivesTheSameFeaturesAndAPredictionEngineDisposesItClearly()
    {
        string weights = RandomWeights(2, seed: 13);
        var ml = new MLContext(1);
        var data = Data(ml, 2, seed: 3);
        var options = new I3DFeatureExtractorOptions { InputColumnName = "Clip", WeightsPath = weights, Endpoint = "Mixed_5c", PerClip = true, Device = "cpu" };
        using var model = ml.Transforms.ExtractI3DFeatures(options).Fit(data);
        var before = Column(model.Transform(data), "Features");

        string zip = Path.Combine(Path.GetDirectoryName(weights)!, "features.zip");
        ml.Model.Save(model, data.Schema, zip);
        File.Delete(weights); // no path dependence: the weights are inside the zip
        var loaded = new MLContext(2).Model.Load(zip, out var inputSchema);
        var transformer = Assert.IsType<I3DFeatureTransformer>(loaded is TransformerChain<ITransformer> chain ? Assert.Single(chain) : loaded);
        Assert.Equal(new I3DFeatureDescription(VideoStream.Flow, 2, 5, "Mixed_5c", true), transformer.Options);
        var reloaded = loaded.Transform(data);
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, Clips, 1024), reloaded.Schema["Features"].Type);
        var after = Column(reloaded, "Features");
        // Equal to float rounding: libtorch's parallel reductions may split differently from run to run on a busy machine.
        for (int r = 0; r < Rows; r++) AssertClose(before[r], after[r]);

        // A PredictionEngine owns (and disposes) the model it is made from unless told otherwise.
        var rows = MakeRows(2, 3);
        using (var engine = ml.Model.CreatePredictionEngine<Row, Featurized>(loaded, new PredictionEngineOptions { InputSchemaDefinition = Schema(2), OwnsTransformer = false }))
            AssertClose(after[1], engine.Predict(rows[1]).Features);
        AssertClose(after[2], Column(loaded.Transform(data), "Features")[2]); // not disposed by that engine
        using (var engine = ml.Model.CreatePredictionEngine<Row, Featurized>(loaded, new PredictionEngineOptions { InputSchemaDefinition = Schema(2) }))
            AssertClose(after[0], engine.Predict(rows[0]).Features);
        // ML.NET's parallel cursor wraps it; the reason is the innermost exception.
        var e = Assert.ThrowsAny<Exception>(() => Column(loaded.Transform(data), "Features"));
        while (e.InnerException is not null && e is not ObjectDisposedException) e = e.InnerException;
        Assert.IsType<ObjectDisposedException>(e);
        Assert.Contains("OwnsTransformer = false", e.Message);
    }

    [Fact]
    public void AFittedClassifiersStreamGivesTheFeaturesOfItsWeights()
    {
        var ml = new MLContext(1);
        var rows = ClipRows.Make(8, seed: 4);
        var data = ml.Data.LoadFromEnumerable(rows, ClipRows.Schema());
        var classifier = ml.MulticlassClassification.Trainers.I3D(new I3DTrainerOptions
        {
            RgbColumnName = "Clip", Epochs = 1, BatchSize = 4, ValidationFraction = 0, BatchNormCalibrationClips = 4,
        }).Fit(data);
        string file = Path.Combine(TrainerTests.Temp("features-model"), "rgb.pt");
        classifier.SaveStreamWeights(VideoStream.Rgb, file);
        using var fromModel = ml.Transforms.ExtractI3DFeatures(new I3DFeatureExtractorOptions { InputColumnName = "Clip", Model = classifier }).Fit(data);
        using var fromFile = ml.Transforms.ExtractI3DFeatures("Features", "Clip", file).Fit(data);
        classifier.Dispose(); // the extractor has its own copy
        var a = Column(fromModel.Transform(data), "Features");
        var b = Column(fromFile.Transform(data), "Features");
        for (int r = 0; r < rows.Count; r++) Assert.Equal(b[r], a[r]);
    }

    [Fact]
    public void AWrongColumnNetworkOrEndpointIsAOneLineErrorNamingIt()
    {
        string rgb = RandomWeights(3, seed: 14);
        var ml = new MLContext(1);
        var data = Data(ml, 3);
        var estimator = ml.Transforms.ExtractI3DFeatures(new I3DFeatureExtractorOptions { InputColumnName = "Clips", WeightsPath = rgb, Device = "cpu" });

        // A missing column, at Fit (the estimator's schema check) and on a fitted transformer.
        var missing = Assert.ThrowsAny<ArgumentException>(() => estimator.Fit(data));
        Assert.Contains("'Clips'", missing.Message);
        using var fitted = ml.Transforms.ExtractI3DFeatures(new I3DFeatureExtractorOptions { InputColumnName = "Clip", WeightsPath = rgb, Device = "cpu" }).Fit(data);
        var scalar = ml.Data.LoadFromEnumerable(new[] { new ScalarRow { Clip = 1 } });
        var wrongType = Assert.ThrowsAny<ArgumentException>(() => fitted.Transform(scalar));
        Assert.Contains("'Clip'", wrongType.Message);

        // Flow clips (2 channels) given to the RGB network.
        var flow = Data(ml, 2);
        var channels = Assert.ThrowsAny<ArgumentException>(() => fitted.Transform(flow));
        Assert.Contains("'Clip'", channels.Message);
        Assert.Contains("channels", channels.Message);

        var stream = Assert.Throws<WeightFileException>(() => ml.Transforms.ExtractI3DFeatures(new I3DFeatureExtractorOptions { WeightsPath = rgb, Stream = VideoStream.Flow }));
        Assert.Contains(rgb, stream.Message);
        var endpoint = Assert.Throws<ArgumentException>(() => ml.Transforms.ExtractI3DFeatures(new I3DFeatureExtractorOptions { WeightsPath = rgb, Endpoint = "Mixed_9z" }));
        Assert.Contains("Mixed_9z", endpoint.Message);
        Assert.Contains("Mixed_5c", endpoint.Message);
        var none = Assert.Throws<ArgumentException>(() => ml.Transforms.ExtractI3DFeatures(new I3DFeatureExtractorOptions()));
        Assert.Contains("WeightsPath", none.Message);
        foreach (var m in new[] { missing.Message, wrongType.Message, channels.Message, stream.Message, endpoint.Message, none.Message })
            Assert.DoesNotContain('\n', m);
    }
}
