// A .NET application that knows nothing of the I3D.MLNet repository: it restores the packages from a feed and runs
// the library's main path. "train DIR ZIP": synthetic videos -> LoadVideo -> SampleClips -> I3D trainer (tiny) ->
// model zip. "predict DIR ZIP" (a fresh process): the zip loaded and scored on the test videos. Videos are decoded in
// LoadVideo's worker process (it comes with the packages too).
using I3D.MLNet;
using I3D.MLNet.Clips;
using I3D.MLNet.Datasets;
using I3D.MLNet.Torch.Training;
using I3D.MLNet.Video;
using Microsoft.ML;
using Microsoft.ML.Data;

if (args.Length != 3 || args[0] is not ("train" or "predict"))
{
    Console.Error.WriteLine("usage: consumer train|predict DIR ZIP");
    return 2;
}
var ml = new MLContext(seed: 1);
string dir = args[1], zip = args[2];
if (args[0] == "train")
{
    SyntheticActions.Write(dir, new SyntheticActionsOptions { Families = SyntheticActionFamilies.Appearance, PerClass = 2, TestPerClass = 1, Frames = 16, Size = 32 });
    var train = VideoDataset.FromFolder(Path.Combine(dir, "train"));
    var data = VideoClassification.MapLabels(ml, train, train.Classes);
    var pipeline = ml.Transforms.LoadVideo("Frames", "Path", new VideoLoaderOptions { Decode = new VideoDecodeOptions { ShorterSide = 32 }, Isolation = VideoDecodeIsolation.WorkerProcess })
        .Append(ml.Transforms.SampleClips("RgbClip", "Frames", new ClipSamplerOptions { Mode = ClipSamplingMode.Auto, Frames = 8, CropSize = 32 }))
        .Append(ml.MulticlassClassification.Trainers.I3D(new I3DTrainerOptions { RgbColumnName = "RgbClip", Epochs = 1, BatchSize = 2, ValidationFraction = 0 }));
    var model = pipeline.Fit(data);
    ml.Model.Save(model, data.Schema, zip);
    Console.WriteLine($"trained on {train.Videos.Count} videos of {train.Classes.Count} classes: {zip}");
    return 0;
}
var loaded = ml.Model.Load(zip, out _);
var test = VideoDataset.FromFolder(Path.Combine(dir, "test"));
var scored = loaded.Transform(VideoClassification.MapLabels(ml, test, test.Classes));
var scores = scored.GetColumn<float[]>("Score").ToList();
foreach (var s in scores) Console.WriteLine($"scores {string.Join(" ", s.Select(v => v.ToString("0.0000", System.Globalization.CultureInfo.InvariantCulture)))}");
Console.WriteLine($"predicted {scores.Count} videos");
return scores.Count == test.Videos.Count && scores.All(s => s.Length == test.Classes.Count && s.All(float.IsFinite)) ? 0 : 1;
