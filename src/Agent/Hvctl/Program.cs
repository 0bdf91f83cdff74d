using Hypervisors.Hvctl;
using Spectre.Console;

return await HvctlApp.RunAsync(args, new HvctlOutput(AnsiConsole.Console, Console.Out, Console.Error)).ConfigureAwait(false);
