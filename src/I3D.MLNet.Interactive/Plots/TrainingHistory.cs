using I3D.MLNet.Interactive.Pictures;
using I3D.MLNet.Torch.Training;

namespace I3D.MLNet.Interactive.Plots;

/// <summary>
/// Collects the I3D trainer's progress reports (pass it as <see cref="I3DTrainerOptions.Progress"/>); a notebook shows
/// it as the training curves: loss per SGD step and per epoch for each stream, validation loss when there is one.
/// Optionally echoes the epoch lines to a writer (the notebook's output) while training runs.
/// </summary>
public sealed class TrainingHistory(TextWriter? echo = null) : IProgress<I3DTrainingProgress>
{
    private readonly List<I3DTrainingProgress> _reports = [];

    /// <summary>The reports received so far, in order.</summary>
    public IReadOnlyList<I3DTrainingProgress> Reports
    {
        get { lock (_reports) return [.. _reports]; }
    }

    /// <summary>Records a report (and echoes it when made with a writer).</summary>
    public void Report(I3DTrainingProgress value)
    {
        lock (_reports) _reports.Add(value);
        if (echo != null && value.Phase == "epoch") lock (echo) echo.WriteLine(value);
    }

    /// <summary>Training loss per step (thin) and per epoch, validation loss per epoch, for each stream.</summary>
    public PngPicture Plot(int width = Charts.DefaultWidth, int height = Charts.DefaultHeight)
    {
        var reports = Reports;
        if (reports.Count == 0) throw new InvalidOperationException("no training progress recorded yet: pass this object as I3DTrainerOptions.Progress and train");
        var series = new List<(string, IReadOnlyList<double>, IReadOnlyList<double>)>();
        foreach (var stream in reports.Select(r => r.Stream).Distinct())
        {
            var steps = reports.Where(r => r.Stream == stream && r.Phase == "train").ToList();
            var epochs = reports.Where(r => r.Stream == stream && r.Phase == "epoch").ToList();
            double stepsPerEpoch = epochs.Count > 0 && steps.Count > 0 ? Math.Max(1, steps.Max(s => s.Step)) / (double)epochs.Count : 1;
            // Steps are put on the epoch axis (step / steps per epoch) so that both curves share it.
            series.Add(($"{stream} loss per step", [.. steps.Select(s => s.Step / stepsPerEpoch)], [.. steps.Select(s => s.Loss)]));
            series.Add(($"{stream} loss per epoch", [.. epochs.Select(e => e.Epoch + 1.0)], [.. epochs.Select(e => e.Loss)]));
            var validated = epochs.Where(e => e.ValidationLoss.HasValue).ToList();
            if (validated.Count > 0)
                series.Add(($"{stream} validation loss", [.. validated.Select(e => e.Epoch + 1.0)], [.. validated.Select(e => e.ValidationLoss!.Value)]));
        }
        return Charts.Lines("Training loss", "epoch", "cross-entropy loss", series, width, height);
    }

    /// <inheritdoc/>
    public override string ToString()
    {
        var epochs = Reports.Where(r => r.Phase == "epoch").ToList();
        return epochs.Count == 0 ? "no epochs finished yet" : string.Join(Environment.NewLine, epochs);
    }
}
