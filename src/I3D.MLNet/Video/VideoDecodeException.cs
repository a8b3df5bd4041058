namespace I3D.MLNet.Video;

/// <summary>A video file could not be decoded; the message names the file and what is wrong with it.</summary>
public sealed class VideoDecodeException(string path, string problem, Exception? inner = null)
    : Exception($"{path}: {problem}", inner)
{
    public string Path { get; } = path;

    public string Problem { get; } = problem;
}
