using Gfs.Consensus;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Gfs.Master.Replication;

/// <summary>Registers a Raft-replicated master replica: <see cref="ReplicatedMaster"/>, Raft (see <see cref="RaftHostingExtensions"/>) and <see cref="MasterReplica"/>.</summary>
public static class MasterHostingExtensions
{
    public static WebApplicationBuilder AddGfsMaster(this WebApplicationBuilder builder, GfsRaftOptions options)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddSingleton<ReplicatedMaster>();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<MasterReplica>();
        return builder.AddGfsRaft(options, static sp => sp.GetRequiredService<ReplicatedMaster>());
    }
}
