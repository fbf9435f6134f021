using System.Text;
using Gfs.Master.Commands;

namespace Gfs.Master.State;

/// <summary>Builds large states for memory and snapshot measurements (tests and benchmarks).</summary>
internal static class MasterStateFiller
{
    /// <summary>Creates <c>/d{i}/f{j}</c> files, each with one chunk, through ordinary commands.</summary>
    public static MasterState Fill(int dirs, int filesPerDir)
    {
        var state = new MasterState();
        long handle = 1;
        var command = new MasterCommand { Timestamp = 1_700_000_000_000 };
        for (var d = 0; d < dirs; d++)
        {
            command.Op = new MakeDirectoryOp { Path = Encoding.UTF8.GetBytes($"/d{d}") };
            state.Apply(command);
            for (var f = 0; f < filesPerDir; f++)
            {
                var path = Encoding.UTF8.GetBytes($"/d{d}/f{f}");
                command.Op = new CreateFileOp { Path = path, Goal = 3 };
                state.Apply(command);
                command.Op = new AllocateChunkOp { Path = path, ChunkIndex = 0, Handle = handle++ };
                state.Apply(command);
            }
        }

        return state;
    }
}
