using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Hypervisors;

/// <summary>
/// The options pattern every driver package follows: a driver's options are named options (the driver's name),
/// bound from an <see cref="IConfiguration"/> section or set by a delegate, validated when the host starts
/// (<c>ValidateOnStart</c>: a bad value stops start-up with an <see cref="OptionsValidationException"/> whose message
/// names the configuration key) and read once when the driver is created. The driver gets
/// <see cref="TimeProvider"/> and <see cref="ILoggerFactory"/> from the container.
/// </summary>
public static class DriverOptionsRegistration
{
    /// <summary>
    /// Registers a driver named <paramref name="name"/> whose <typeparamref name="TOptions"/> are bound from
    /// <paramref name="section"/>; failures of <paramref name="validate"/> name keys under the section's path.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="name">The driver's name (and the options' name).</param>
    /// <param name="section">The configuration section, e.g. <c>Hypervisors:Drivers:esx1</c>.</param>
    /// <param name="validate">The options' checks: given the options and the key prefix, the failure messages.</param>
    /// <param name="create">Creates the driver from the validated options.</param>
    public static HypervisorsBuilder AddDriver<TOptions>(this HypervisorsBuilder builder, string name, IConfiguration section,
        Func<TOptions, string, IEnumerable<string>> validate, Func<DriverServices, TOptions, IHypervisorDriver> create)
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(section);
        var keyPrefix = section is IConfigurationSection { Path: var path } ? path : name;
        return builder.AddDriver(name, options => options.Bind(section), keyPrefix, validate, create);
    }

    /// <summary>
    /// Registers a driver named <paramref name="name"/> whose <typeparamref name="TOptions"/> are set by
    /// <paramref name="configure"/>; failures of <paramref name="validate"/> name keys as <c>{name}:{Property}</c>.
    /// </summary>
    public static HypervisorsBuilder AddDriver<TOptions>(this HypervisorsBuilder builder, string name, Action<TOptions> configure,
        Func<TOptions, string, IEnumerable<string>> validate, Func<DriverServices, TOptions, IHypervisorDriver> create)
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(configure);
        return builder.AddDriver(name, options => options.Configure(configure), name, validate, create);
    }

    /// <summary>The general form: <paramref name="bind"/> configures the named <see cref="OptionsBuilder{TOptions}"/>.</summary>
    public static HypervisorsBuilder AddDriver<TOptions>(this HypervisorsBuilder builder, string name, Action<OptionsBuilder<TOptions>> bind,
        string keyPrefix, Func<TOptions, string, IEnumerable<string>> validate, Func<DriverServices, TOptions, IHypervisorDriver> create)
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(bind);
        ArgumentNullException.ThrowIfNull(validate);
        ArgumentNullException.ThrowIfNull(create);
        HypervisorsBuilder.ValidateDriverName(name);
        var options = builder.Services.AddOptions<TOptions>(name);
        bind(options);
        builder.Services.AddSingleton<IValidateOptions<TOptions>>(new NamedOptionsValidator<TOptions>(name, keyPrefix, validate));
        options.ValidateOnStart();
        return builder.AddDriver(name, services =>
            create(new DriverServices(services, name), services.GetRequiredService<IOptionsMonitor<TOptions>>().Get(name)));
    }

    /// <summary>
    /// For a driver constructed directly (without the container): throws the same
    /// <see cref="OptionsValidationException"/> start-up validation would, when <paramref name="failures"/> has any.
    /// </summary>
    public static void ThrowIfInvalid<TOptions>(string name, IEnumerable<string> failures)
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(failures);
        var list = failures.ToList();
        if (list.Count > 0)
        {
            throw new OptionsValidationException(name, typeof(TOptions), list);
        }
    }

    private sealed class NamedOptionsValidator<TOptions>(string name, string keyPrefix, Func<TOptions, string, IEnumerable<string>> validate)
        : IValidateOptions<TOptions>
        where TOptions : class
    {
        public ValidateOptionsResult Validate(string? optionsName, TOptions options)
        {
            if (!string.Equals(optionsName, name, StringComparison.Ordinal))
            {
                return ValidateOptionsResult.Skip;
            }

            var failures = validate(options, keyPrefix).ToList();
            return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
        }
    }
}

/// <summary>What a driver takes from the container: its name, clock and loggers.</summary>
/// <param name="Services">The container.</param>
/// <param name="Name">The driver's registered name.</param>
public sealed record DriverServices(IServiceProvider Services, string Name)
{
    /// <summary>The registered <see cref="TimeProvider"/>, else the system clock.</summary>
    public TimeProvider TimeProvider => Services.GetService<TimeProvider>() ?? TimeProvider.System;

    /// <summary>The registered <see cref="ILoggerFactory"/>, else one that logs nowhere.</summary>
    public ILoggerFactory LoggerFactory => Services.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance;

    /// <summary>A logger of category <typeparamref name="T"/>.</summary>
    public ILogger<T> Logger<T>() => LoggerFactory.CreateLogger<T>();
}
