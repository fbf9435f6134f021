using Gfs.Node.Cli;

return await CliInvocation.InvokeAsync(GfsCommandLine.Build(), args).ConfigureAwait(false);
