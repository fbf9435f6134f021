using Gfs.Node.Cli;

return await GfsCommandLine.Build().Parse(args).InvokeAsync().ConfigureAwait(false);
