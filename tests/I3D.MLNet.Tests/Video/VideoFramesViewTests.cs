using I3D.MLNet.Video;
using Microsoft.ML;

namespace I3D.MLNet.Tests.Video;

/// <summary>
/// A reader's buffer (<see cref="VideoFrames.ForReading"/>) sees a decoded row's frames without a copy; changing its
/// shape takes its own arrays, so the row's frames, and every other reader's, stay as decoded.
/// </summary>
public sealed class VideoFramesViewTests
{
    [Fact]
    public void AViewShowsTheRowsFramesAndWritingToItLeavesThemAlone()
    {
        string dir = TestVideos.TempDir("view");
        string first = TestVideos.Write(Path.Combine(dir, "a.avi"), 6, 64, 48), second = TestVideos.Write(Path.Combine(dir, "b.avi"), 9, 48, 64);
        var ml = new MLContext(0);
        var data = ml.Data.LoadFromEnumerable(new[] { new { Path = first }, new { Path = second } });
        var output = ml.Transforms.LoadVideo("Frames", "Path", new VideoLoaderOptions { Decode = new VideoDecodeOptions { ShorterSide = null } }).Fit(data).Transform(data);
        using var cursor = output.GetRowCursor(output.Schema);
        var getFrames = cursor.GetGetter<VideoFrames>(output.Schema["Frames"]);
        var view = VideoFrames.ForReading();
        var copy = new VideoFrames();
        foreach (var (path, frames, height, width) in new[] { (first, 6, 48, 64), (second, 9, 64, 48) })
        {
            Assert.True(cursor.MoveNext());
            getFrames(ref view);
            getFrames(ref copy);
            Assert.Equal((path, frames, height, width), (view.Source, view.FrameCount, view.Height, view.Width));
            Assert.Equal(copy.Bytes.ToArray(), view.Bytes.ToArray());
            byte[] decoded = copy.Bytes.ToArray();

            // A reader that reuses its buffer for something else (a new shape, an appended frame) takes its own arrays.
            view.Reset(FrameElementKind.Rgb24, 2, height, width);
            view.Bytes.Fill(9);
            var again = new VideoFrames();
            getFrames(ref again);
            Assert.Equal(decoded, again.Bytes.ToArray());
            getFrames(ref view);
            view.AppendRgbFrame().Fill(7);
            view.Bytes.Fill(8);
            Assert.Equal(frames + 1, view.FrameCount);
            getFrames(ref again);
            Assert.Equal(decoded, again.Bytes.ToArray());

            // A copy is the caller's own: writing to it changes no one else's frames.
            copy.Bytes.Fill(5);
            getFrames(ref view);
            Assert.Equal(decoded, view.Bytes.ToArray());
        }
        Assert.False(cursor.MoveNext());
    }
}
