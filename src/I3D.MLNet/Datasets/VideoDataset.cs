using Microsoft.ML;

namespace I3D.MLNet.Datasets;

/// <summary>One labelled video.</summary>
public sealed class LabelledVideo
{
    /// <summary>The video file's path.</summary>
    public string Path { get; set; } = "";

    /// <summary>The class name.</summary>
    public string Label { get; set; } = "";
}

/// <summary>
/// Labelled videos as an <see cref="IDataView"/> of (Path, Label) with the class list in its canonical order (the
/// class index order: alphabetical for folders, classInd.txt's for UCF-101, the split files' for HMDB-51). Map the label
/// to a key with <see cref="KeyData"/> so that key i is class i.
/// </summary>
public sealed record VideoDataset(IReadOnlyList<LabelledVideo> Videos, IReadOnlyList<string> Classes)
{
    /// <summary>File extensions taken as videos when a folder is listed (case-insensitive).</summary>
    public static readonly string[] VideoExtensions = [".mp4", ".avi", ".mkv", ".mov", ".webm", ".gif", ".mpg", ".mpeg", ".m4v", ".wmv", ".flv"];

    /// <summary>The rows as a view that can shuffle (the trainer reads each epoch in a new seeded order).</summary>
    public IDataView ToDataView(MLContext ml) => new ShufflableTable([("Path", [.. Videos.Select(v => v.Path)]), ("Label", [.. Videos.Select(v => v.Label)])]);

    /// <summary>The classes in index order, for <c>MapValueToKey(keyData: ...)</c>.</summary>
    public IDataView KeyData(MLContext ml) => KeyDataOf(ml, Classes);

    /// <summary>A one-column view of class names in index order, for <c>MapValueToKey(keyData: ...)</c>.</summary>
    public static IDataView KeyDataOf(MLContext ml, IEnumerable<string> classes) => ml.Data.LoadFromEnumerable(classes.Select(c => new ClassName { Label = c }).ToList());

    /// <summary>
    /// <c>DIR/&lt;class&gt;/&lt;video&gt;</c>: one sub-folder per class (sorted by name = class index), video files by
    /// extension. An empty class folder, fewer than two classes or a missing folder is an error that names it.
    /// </summary>
    public static VideoDataset FromFolder(string directory)
    {
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"{directory}: no such folder (expected DIR/<class>/<video>)");
        var classes = Directory.GetDirectories(directory).Select(System.IO.Path.GetFileName).OfType<string>().Where(n => !n.StartsWith('.')).Order(StringComparer.Ordinal).ToList();
        if (classes.Count == 0) throw new InvalidDataException($"{directory}: no class folders (expected DIR/<class>/<video>)");
        var videos = new List<LabelledVideo>();
        foreach (var c in classes)
        {
            var files = Directory.GetFiles(System.IO.Path.Combine(directory, c))
                .Where(f => VideoExtensions.Contains(System.IO.Path.GetExtension(f).ToLowerInvariant()))
                .Order(StringComparer.Ordinal).ToList();
            if (files.Count == 0) throw new InvalidDataException($"{System.IO.Path.Combine(directory, c)}: the class folder '{c}' holds no video files ({string.Join(" ", VideoExtensions)})");
            videos.AddRange(files.Select(f => new LabelledVideo { Path = f, Label = c }));
        }
        if (classes.Count < 2) throw new InvalidDataException($"{directory}: only one class ('{classes[0]}'); a classifier needs at least two");
        return new VideoDataset(videos, classes);
    }

    /// <summary>
    /// UCF-101's official split files: <c>classInd.txt</c> ("1 ApplyEyeMakeup", 1-based) and a train or test list
    /// ("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1", or without the index in test lists); paths are resolved
    /// against <paramref name="videoRoot"/> (the folder holding the class folders).
    /// </summary>
    public static VideoDataset FromUcf101(string classIndFile, string listFile, string videoRoot)
    {
        var classes = new List<string>();
        foreach (var (line, number) in ReadLines(classIndFile))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 2 || !int.TryParse(parts[0], out int index) || index != classes.Count + 1)
                throw new InvalidDataException($"{classIndFile}:{number}: expected '<{classes.Count + 1}> <ClassName>', got '{line}'");
            classes.Add(parts[1]);
        }
        var videos = new List<LabelledVideo>();
        foreach (var (line, number) in ReadLines(listFile))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            string relative = parts[0];
            string folderClass = relative.Split('/')[0];
            string label = parts.Length > 1 && int.TryParse(parts[1], out int index) && index >= 1 && index <= classes.Count ? classes[index - 1] : folderClass;
            if (!classes.Contains(label)) throw new InvalidDataException($"{listFile}:{number}: class '{label}' is not in {classIndFile}");
            if (label != folderClass) throw new InvalidDataException($"{listFile}:{number}: index says '{label}', the folder says '{folderClass}'");
            videos.Add(new LabelledVideo { Path = System.IO.Path.Combine(videoRoot, relative), Label = label });
        }
        return new VideoDataset(videos, classes);
    }

    /// <summary>
    /// A plain list of videos, one per line: a path (relative to <paramref name="videoRoot"/>, or absolute) and optionally,
    /// after a space or a tab, its class name. Classes: the names given, sorted; videos without one have an empty label.
    /// </summary>
    public static VideoDataset FromList(string listFile, string videoRoot)
    {
        var videos = new List<LabelledVideo>();
        foreach (var (line, _) in ReadLines(listFile))
        {
            var parts = line.Split([' ', '\t'], 2, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            videos.Add(new LabelledVideo { Path = System.IO.Path.Combine(videoRoot, parts[0]), Label = parts.Length > 1 ? parts[1] : "" });
        }
        return new VideoDataset(videos, [.. videos.Select(v => v.Label).Where(l => l.Length > 0).Distinct().Order(StringComparer.Ordinal)]);
    }

    /// <summary>
    /// HMDB-51's official splits: <c>&lt;class&gt;_test_split&lt;N&gt;.txt</c> files in <paramref name="splitDirectory"/>
    /// with lines "&lt;video&gt; &lt;0|1|2&gt;" (1 = train, 2 = test, 0 = unused); videos at
    /// <c>videoRoot/&lt;class&gt;/&lt;video&gt;</c>. Classes in sorted order (HMDB-51's usual index order).
    /// </summary>
    public static VideoDataset FromHmdb51(string splitDirectory, int split, bool train, string videoRoot)
    {
        if (split is < 1 or > 3) throw new ArgumentOutOfRangeException(nameof(split), split, "HMDB-51 has splits 1, 2 and 3");
        if (!Directory.Exists(splitDirectory)) throw new DirectoryNotFoundException($"{splitDirectory}: no such folder");
        var files = Directory.GetFiles(splitDirectory, $"*_test_split{split}.txt").Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new InvalidDataException($"{splitDirectory}: no *_test_split{split}.txt files");
        var classes = new List<string>();
        var videos = new List<LabelledVideo>();
        string wanted = train ? "1" : "2";
        foreach (var file in files)
        {
            string name = System.IO.Path.GetFileName(file);
            string label = name[..name.LastIndexOf($"_test_split{split}.txt", StringComparison.Ordinal)];
            classes.Add(label);
            foreach (var (line, number) in ReadLines(file))
            {
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length != 2 || parts[1] is not ("0" or "1" or "2")) throw new InvalidDataException($"{file}:{number}: expected '<video> <0|1|2>', got '{line}'");
                if (parts[1] == wanted) videos.Add(new LabelledVideo { Path = System.IO.Path.Combine(videoRoot, label, parts[0]), Label = label });
            }
        }
        return new VideoDataset(videos, classes);
    }

    /// <summary>The non-empty lines of a text file (CRLF or LF) with their 1-based numbers.</summary>
    private static IEnumerable<(string Line, int Number)> ReadLines(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file", path);
        int number = 0;
        foreach (var raw in File.ReadLines(path))
        {
            number++;
            string line = raw.Trim();
            if (line.Length > 0) yield return (line, number);
        }
    }

    private sealed class ClassName
    {
        public string Label { get; set; } = "";
    }
}
