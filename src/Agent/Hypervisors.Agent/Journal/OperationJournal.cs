using System.Globalization;
using System.Text.Json;
using Hypervisors.Agent.Client;
using Hypervisors.Agent.Configuration;
using Hypervisors.Agent.Operations;
using Microsoft.Data.Sqlite;

namespace Hypervisors.Agent.Journal;

/// <summary>
/// The agent's SQLite journal (WAL mode): operations with their idempotency keys, written before the driver is
/// called; lifecycle events for resumable streams; the last known power state of every instance.
/// </summary>
/// <remarks>
/// Writes go through one writer task with group commit: every write queued while a transaction is being committed
/// joins the next transaction, so concurrent requests share commits; each caller's task completes only after its
/// transaction is committed. Reads use a second connection (WAL lets it read while the writer writes).
/// </remarks>
internal sealed class OperationJournal : IAsyncDisposable
{
    private const int MaxBatch = 512;
    private const string OperationColumns = "id, idempotency_key, driver, instance_id, kind, request, state, result, error, created_at, updated_at";

    private readonly Lock _gate = new();
    private readonly Lock _readGate = new();
    private readonly SqliteConnection _connection;
    private readonly SqliteConnection _readConnection;
    private readonly SqliteCommand _readById;
    private readonly System.Threading.Channels.Channel<JournalWrite> _writes =
        System.Threading.Channels.Channel.CreateUnbounded<JournalWrite>(new System.Threading.Channels.UnboundedChannelOptions { SingleReader = true });
    private readonly Task _writer;
    private readonly SqliteConnection _checkpointConnection;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _checkpointer;
    private readonly SqliteCommand _selectByKey;
    private readonly SqliteCommand _selectById;
    private readonly SqliteCommand _insertOperation;
    private readonly SqliteCommand _completeOperation;
    private readonly SqliteCommand _releaseKey;
    private readonly SqliteCommand _releaseByKey;
    private readonly SqliteCommand _insertEvent;
    private readonly SqliteCommand _upsertState;
    private readonly SqliteCommand _deleteState;
    private readonly SqliteCommand _heartbeat;
    private readonly SqliteCommand _pruneOperations;
    private readonly string _identity;
    private string? _problem;
    private string? _writeProblem;
    private string? _fileProblem;

    public OperationJournal(string path, JournalDurability durability)
    {
        Path = path;
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        _connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        try
        {
            _connection.Open();
            _identity = OpenSchema(durability);
        }
        catch (SqliteException exception)
        {
            _connection.Dispose();
            throw new AgentStartupException($"The journal {path} cannot be opened and written: {exception.Message} (a read-only file or file system, or a corrupt file: moving that aside starts an empty journal, and the unfinished operations in it are then not reconciled).", exception);
        }

        _selectByKey = Prepare($"SELECT {OperationColumns} FROM operations WHERE idempotency_key = $key", "$key");
        _selectById = Prepare($"SELECT {OperationColumns} FROM operations WHERE id = $id", "$id");
        _insertOperation = Prepare(
            $"INSERT INTO operations({OperationColumns}) VALUES($id, $key, $driver, $instance, $kind, $request, $state, NULL, NULL, $at, $at)",
            "$id", "$key", "$driver", "$instance", "$kind", "$request", "$state", "$at");
        _completeOperation = Prepare(
            "UPDATE operations SET state = $state, result = $result, error = $error, updated_at = $at, idempotency_key = CASE WHEN $release THEN NULL ELSE idempotency_key END WHERE id = $id",
            "$state", "$result", "$error", "$at", "$release", "$id");
        _releaseKey = Prepare("UPDATE operations SET idempotency_key = NULL WHERE id = $id", "$id");
        _releaseByKey = Prepare("UPDATE operations SET idempotency_key = NULL WHERE idempotency_key = $key", "$key");
        _insertEvent = Prepare(
            "INSERT INTO events(driver, instance_id, kind, power_state, source, at) VALUES($driver, $instance, $kind, $state, $source, $at) RETURNING seq",
            "$driver", "$instance", "$kind", "$state", "$source", "$at");
        _upsertState = Prepare(
            "INSERT INTO instance_states(driver, instance_id, power_state) VALUES($driver, $instance, $state) ON CONFLICT(driver, instance_id) DO UPDATE SET power_state = excluded.power_state",
            "$driver", "$instance", "$state");
        _deleteState = Prepare("DELETE FROM instance_states WHERE driver = $driver AND instance_id = $instance", "$driver", "$instance");
        _heartbeat = Prepare("INSERT OR REPLACE INTO journal_meta(key, value) VALUES('heartbeat', $at)", "$at");
        _pruneOperations = Prepare("DELETE FROM operations WHERE state IN ('Succeeded', 'Failed') AND updated_at < $before", "$before");

        _readConnection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false, Mode = SqliteOpenMode.ReadOnly }.ToString());
        _readConnection.Open();
        _readById = _readConnection.CreateCommand();
        _readById.CommandText = $"SELECT {OperationColumns} FROM operations WHERE id = $id";
        _readById.Parameters.Add(new SqliteParameter("$id", null));
        _writer = Task.Factory.StartNew(WriteLoopAsync, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
        _checkpointConnection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        _checkpointConnection.Open();
        _checkpointer = CheckpointLoopAsync();
    }

    public string Path { get; }

    /// <summary>Whether the journal can be written and is still the file the agent opened.</summary>
    public bool IsHealthy => Volatile.Read(ref _problem) is null;

    /// <summary>Why the journal is not healthy, or null.</summary>
    public string? Problem => Volatile.Read(ref _problem);

    /// <summary>Sets the pragmas, creates the tables, writes once and returns the journal's identity (a random id kept in the file).</summary>
    private string OpenSchema(JournalDurability durability)
    {
        // Checkpoints (copying the WAL into the database, with an fsync) run on their own connection every second
        // (see CheckpointLoopAsync), so the writer never stalls on one.
        Execute($"PRAGMA journal_mode=WAL; PRAGMA synchronous={(durability == JournalDurability.Full ? "FULL" : "NORMAL")}; PRAGMA busy_timeout=5000; PRAGMA wal_autocheckpoint=0;");
        Execute("""
            CREATE TABLE IF NOT EXISTS operations(
                id TEXT PRIMARY KEY,
                idempotency_key TEXT UNIQUE,
                driver TEXT NOT NULL,
                instance_id TEXT NOT NULL,
                kind TEXT NOT NULL,
                request TEXT NOT NULL,
                state TEXT NOT NULL,
                result TEXT,
                error TEXT,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL);
            CREATE INDEX IF NOT EXISTS operations_pending ON operations(state) WHERE state = 'Pending';
            CREATE INDEX IF NOT EXISTS operations_unfinished ON operations(state) WHERE state IN ('Pending', 'Interrupted');
            CREATE TABLE IF NOT EXISTS events(
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                driver TEXT NOT NULL,
                instance_id TEXT NOT NULL,
                kind TEXT NOT NULL,
                power_state TEXT NOT NULL,
                source TEXT NOT NULL,
                at INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS journal_meta(
                key TEXT PRIMARY KEY,
                value TEXT NOT NULL) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS operations_instance ON operations(instance_id);
            CREATE TABLE IF NOT EXISTS instance_states(
                driver TEXT NOT NULL,
                instance_id TEXT NOT NULL,
                power_state TEXT NOT NULL,
                PRIMARY KEY(driver, instance_id)) WITHOUT ROWID;
            """);

        // A real write at open: a journal that cannot be written refuses the start rather than every request.
        Execute($"INSERT OR IGNORE INTO journal_meta(key, value) VALUES('identity', '{Guid.NewGuid():N}'); INSERT OR REPLACE INTO journal_meta(key, value) VALUES('opened_at', '{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}');");
        using var identity = _connection.CreateCommand();
        identity.CommandText = "SELECT value FROM journal_meta WHERE key = 'identity'";
        return (string)identity.ExecuteScalar()!;
    }

    /// <summary>
    /// Returns the operation already holding <paramref name="operation"/>'s idempotency key, or journals
    /// <paramref name="operation"/> (committed before this returns) and returns it with <c>Created</c> true.
    /// </summary>
    public Task<(StoredOperation Operation, bool Created)> BeginOrGetAsync(StoredOperation operation) => WriteAsync(() =>
        {
            if (operation.IdempotencyKey is not null)
            {
                Bind(_selectByKey, operation.IdempotencyKey);
                var existing = ReadOperations(_selectByKey).FirstOrDefault();
                if (existing is not null)
                {
                    return (existing, false);
                }
            }

            Bind(_insertOperation, operation.Id, (object?)operation.IdempotencyKey ?? DBNull.Value, operation.Driver, Format(operation.InstanceId), operation.Kind,
                JsonSerializer.Serialize(operation.Request, AgentJson.Options), operation.State.ToString(), operation.CreatedAt.ToUnixTimeMilliseconds());
            _insertOperation.ExecuteNonQuery();
            return (operation, true);
        });

    /// <summary>Records the final state; <paramref name="releaseKey"/> frees the idempotency key for a new operation.</summary>
    /// <remarks><paramref name="alsoReleaseKey"/> frees another key (a delete frees its instance's create key) in the same transaction.</remarks>
    public async Task<StoredOperation> CompleteAsync(StoredOperation operation, OperationState state, string? resultJson, AgentProblem? error, DateTimeOffset at, bool releaseKey, string? alsoReleaseKey = null)
    {
        var errorJson = error is null ? null : JsonSerializer.Serialize(error, AgentJson.Options);
        await WriteAsync(() =>
        {
            Bind(_completeOperation, state.ToString(), (object?)resultJson ?? DBNull.Value, (object?)errorJson ?? DBNull.Value, at.ToUnixTimeMilliseconds(), releaseKey, operation.Id);
            _completeOperation.ExecuteNonQuery();
            if (alsoReleaseKey is not null)
            {
                Bind(_releaseByKey, alsoReleaseKey);
                _releaseByKey.ExecuteNonQuery();
            }

            return true;
        }).ConfigureAwait(false);

        return operation with
        {
            State = state,
            ResultJson = resultJson,
            Error = error,
            UpdatedAt = at,
            IdempotencyKey = releaseKey ? null : operation.IdempotencyKey,
        };
    }

    /// <summary>Frees the idempotency key held by operation <paramref name="operationId"/>.</summary>
    public Task ReleaseKeyAsync(string operationId) => WriteAsync(() =>
    {
        Bind(_releaseKey, operationId);
        return _releaseKey.ExecuteNonQuery();
    });

    public StoredOperation? Get(string operationId)
    {
        lock (_readGate)
        {
            Bind(_readById, operationId);
            return ReadOperations(_readById).FirstOrDefault();
        }
    }

    /// <summary>Operations not in a final state, oldest first: those a crash interrupted.</summary>
    public IReadOnlyList<StoredOperation> ListUnfinished()
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = $"SELECT {OperationColumns} FROM operations WHERE state IN ('Pending', 'Interrupted') ORDER BY created_at, rowid";
            return ReadOperations(command);
        }
    }

    /// <summary>
    /// One page of operations, oldest first (ids grow with time), after the operation <paramref name="afterId"/>,
    /// optionally only those of <paramref name="driver"/>, <paramref name="instanceId"/> or in <paramref name="state"/>.
    /// </summary>
    public IReadOnlyList<StoredOperation> List(string? driver, Guid? instanceId, OperationState? state, string? afterId, int limit)
    {
        lock (_readGate)
        {
            using var command = _readConnection.CreateCommand();
            command.CommandText = $"""
                SELECT {OperationColumns} FROM operations
                WHERE ($driver IS NULL OR driver = $driver) AND ($instance IS NULL OR instance_id = $instance)
                  AND ($state IS NULL OR state = $state) AND ($after IS NULL OR id > $after)
                ORDER BY id LIMIT $limit
                """;
            command.Parameters.AddWithValue("$driver", (object?)driver ?? DBNull.Value);
            command.Parameters.AddWithValue("$instance", instanceId is { } id ? Format(id) : DBNull.Value);
            command.Parameters.AddWithValue("$state", state?.ToString() ?? (object)DBNull.Value);
            command.Parameters.AddWithValue("$after", (object?)afterId ?? DBNull.Value);
            command.Parameters.AddWithValue("$limit", limit);
            return ReadOperations(command);
        }
    }

    /// <summary>Deletes finished operations last changed before <paramref name="before"/>; returns how many.</summary>
    public Task<int> PruneOperationsAsync(DateTimeOffset before) => WriteAsync(() =>
    {
        Bind(_pruneOperations, before.ToUnixTimeMilliseconds());
        return _pruneOperations.ExecuteNonQuery();
    });

    /// <summary>Records that shutdown cut the operation off; it stays unfinished and is reconciled at the next start.</summary>
    public Task MarkInterruptedAsync(string operationId, DateTimeOffset at) => WriteAsync(() =>
    {
        Bind(_completeOperation, nameof(OperationState.Interrupted), DBNull.Value, DBNull.Value, at.ToUnixTimeMilliseconds(), false, operationId);
        return _completeOperation.ExecuteNonQuery();
    });

    /// <summary>Counts operations by state (for tests and diagnostics).</summary>
    public IReadOnlyDictionary<OperationState, int> CountByState()
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT state, COUNT(*) FROM operations GROUP BY state";
            using var reader = command.ExecuteReader();
            var counts = new Dictionary<OperationState, int>();
            while (reader.Read())
            {
                counts[Enum.Parse<OperationState>(reader.GetString(0))] = reader.GetInt32(1);
            }

            return counts;
        }
    }

    /// <summary>
    /// Appends an event and records the instance's new last known state; <paramref name="afterCommit"/> runs with
    /// the event id once committed, on the writer, in event id order.
    /// </summary>
    public Task<long> AppendEventAsync(string driver, Guid instanceId, InstanceEventKind kind, PowerState state, string source, DateTimeOffset at, Action<long> afterCommit) =>
        WriteAsync(() =>
        {
            Bind(_insertEvent, driver, Format(instanceId), kind.ToString(), state.ToString(), source, at.ToUnixTimeMilliseconds());
            var seq = (long)_insertEvent.ExecuteScalar()!;
            if (kind == InstanceEventKind.Deleted)
            {
                Bind(_deleteState, driver, Format(instanceId));
                _deleteState.ExecuteNonQuery();
            }
            else
            {
                Bind(_upsertState, driver, Format(instanceId), state.ToString());
                _upsertState.ExecuteNonQuery();
            }

            return seq;
        }, seq => afterCommit(seq));

    /// <summary>Up to <paramref name="limit"/> events after <paramref name="afterSeq"/>, oldest first.</summary>
    public IReadOnlyList<AgentEvent> EventsAfter(long afterSeq, int limit)
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT seq, driver, instance_id, kind, power_state, at, source FROM events WHERE seq > $after ORDER BY seq LIMIT $limit";
            command.Parameters.AddWithValue("$after", afterSeq);
            command.Parameters.AddWithValue("$limit", limit);
            using var reader = command.ExecuteReader();
            var events = new List<AgentEvent>();
            while (reader.Read())
            {
                events.Add(new AgentEvent(reader.GetInt64(0), reader.GetString(1), Guid.Parse(reader.GetString(2)), Enum.Parse<InstanceEventKind>(reader.GetString(3)),
                    Enum.Parse<PowerState>(reader.GetString(4)), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(5)), reader.GetString(6)));
            }

            return events;
        }
    }

    /// <summary>The newest event id, or 0.</summary>
    public long LastEventSeq()
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT COALESCE(MAX(seq), 0) FROM events";
            return (long)command.ExecuteScalar()!;
        }
    }

    /// <summary>The last known power state of every instance.</summary>
    public IReadOnlyList<(string Driver, Guid InstanceId, PowerState State)> LoadStates()
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT driver, instance_id, power_state FROM instance_states";
            using var reader = command.ExecuteReader();
            var states = new List<(string, Guid, PowerState)>();
            while (reader.Read())
            {
                states.Add((reader.GetString(0), Guid.Parse(reader.GetString(1)), Enum.Parse<PowerState>(reader.GetString(2))));
            }

            return states;
        }
    }

    /// <summary>Drops all but the newest <paramref name="keep"/> events.</summary>
    public void PruneEvents(int keep)
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "DELETE FROM events WHERE seq <= (SELECT MAX(seq) FROM events) - $keep";
            command.Parameters.AddWithValue("$keep", keep);
            command.ExecuteNonQuery();
        }
    }

    public async ValueTask DisposeAsync()
    {
        // The health probe writes through the writer, so it stops first.
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _checkpointer.ConfigureAwait(false);
        _writes.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
        Checkpoint();
        _checkpointConnection.Dispose();
        _stopping.Dispose();
        lock (_readGate)
        {
            _readById.Dispose();
            _readConnection.Dispose();
        }

        lock (_gate)
        {
            foreach (var command in new[] { _selectByKey, _selectById, _insertOperation, _completeOperation, _releaseKey, _releaseByKey, _insertEvent, _upsertState, _deleteState, _heartbeat, _pruneOperations })
            {
                command.Dispose();
            }

            _connection.Dispose();
        }
    }

    private Task<T> WriteAsync<T>(Func<T> write, Action<T>? afterCommit = null)
    {
        if (Volatile.Read(ref _problem) is { } problem)
        {
            // Refused before anything is queued: the request changes nothing.
            throw new JournalUnavailableException(problem);
        }

        return WriteUncheckedAsync(write, afterCommit);
    }

    private async Task<T> WriteUncheckedAsync<T>(Func<T> write, Action<T>? afterCommit = null)
    {
        var item = new JournalWrite<T>(write, afterCommit);
        if (!_writes.Writer.TryWrite(item))
        {
            throw new ObjectDisposedException(nameof(OperationJournal));
        }

        try
        {
            return await item.Completion.Task.ConfigureAwait(false);
        }
        catch (Exception exception) when (IsStorageFailure(exception))
        {
            throw new JournalUnavailableException($"the journal {Path} cannot be written: {exception.Message}", exception);
        }
    }

    /// <summary>A failure of the storage (read-only, full, I/O error, gone), as opposed to a constraint a write broke.</summary>
    private static bool IsStorageFailure(Exception exception) =>
        exception is IOException || (exception is SqliteException sqlite && sqlite.SqliteErrorCode != SQLiteConstraint);

    private const int SQLiteConstraint = 19;

    /// <summary>
    /// Once a second: is the file at <see cref="Path"/> still the journal this process opened (not deleted, not
    /// replaced)? Every fifth second, and while unhealthy, a small write proves the journal can still be written.
    /// </summary>
    private async Task CheckHealthAsync(long tick)
    {
        string? fileProblem = null;
        try
        {
            using var probe = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Path, Pooling = false, Mode = SqliteOpenMode.ReadOnly }.ToString());
            probe.Open();
            using var command = probe.CreateCommand();
            command.CommandText = "SELECT value FROM journal_meta WHERE key = 'identity'";
            if (command.ExecuteScalar() as string != _identity)
            {
                fileProblem = $"the journal {Path} was replaced while the agent ran";
            }
        }
        catch (SqliteException)
        {
            fileProblem = $"the journal {Path} is gone or unreadable";
        }

        Volatile.Write(ref _fileProblem, fileProblem);
        if (tick % 5 == 0 || Volatile.Read(ref _writeProblem) is not null)
        {
            try
            {
                await WriteUncheckedAsync(() =>
                {
                    Bind(_heartbeat, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture));
                    return _heartbeat.ExecuteNonQuery();
                }).ConfigureAwait(false);
                Volatile.Write(ref _writeProblem, null);
            }
            catch (JournalUnavailableException exception)
            {
                Volatile.Write(ref _writeProblem, exception.Message);
            }
        }

        Volatile.Write(ref _problem, Volatile.Read(ref _fileProblem) ?? Volatile.Read(ref _writeProblem));
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<JournalWrite>(MaxBatch);
        while (await _writes.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (batch.Count < MaxBatch && _writes.Reader.TryRead(out var item))
            {
                batch.Add(item);
            }

            lock (_gate)
            {
                try
                {
                    using var transaction = _connection.BeginTransaction();
                    foreach (var command in WriteCommands)
                    {
                        command.Transaction = transaction;
                    }

                    foreach (var write in batch)
                    {
                        write.Execute();
                    }

                    transaction.Commit();
                    foreach (var write in batch)
                    {
                        write.Committed();
                    }

                    if (batch.Find(write => write.Error is not null && IsStorageFailure(write.Error)) is { } failed)
                    {
                        MarkWriteFailure(failed.Error!);
                    }
                }
                catch (Exception exception) when (exception is SqliteException or IOException)
                {
                    // The transaction rolled back: nothing in it happened.
                    MarkWriteFailure(exception);
                    foreach (var write in batch)
                    {
                        write.Fail(exception);
                    }
                }
            }

            batch.Clear();

            // Let the continuations of the writes just committed run first (they are queued on the thread pool
            // ahead of this): most of them queue their next write right away, which then joins the next batch.
            await Task.Yield();
        }
    }

    private void MarkWriteFailure(Exception exception)
    {
        var problem = $"the journal {Path} cannot be written: {exception.Message}";
        Volatile.Write(ref _writeProblem, problem);
        Volatile.Write(ref _problem, Volatile.Read(ref _fileProblem) ?? problem);
    }

    private async Task CheckpointLoopAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        long tick = 0;
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false))
            {
                Checkpoint();
                await CheckHealthAsync(++tick).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // Disposing.
        }
    }

    /// <summary>PASSIVE: copies what it can without waiting for (or blocking) the writer.</summary>
    private void Checkpoint()
    {
        try
        {
            using var command = _checkpointConnection.CreateCommand();
            command.CommandText = "PRAGMA wal_checkpoint(PASSIVE)";
            command.ExecuteNonQuery();
        }
        catch (SqliteException)
        {
            // Busy: the next round catches up; the WAL keeps everything meanwhile.
        }
    }

    private IEnumerable<SqliteCommand> WriteCommands =>
        [_selectByKey, _insertOperation, _completeOperation, _releaseKey, _releaseByKey, _insertEvent, _upsertState, _deleteState, _heartbeat, _pruneOperations];

    private static string Format(Guid id) => id.ToString("D", CultureInfo.InvariantCulture);

    private static void Bind(SqliteCommand command, params object[] values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            command.Parameters[i].Value = values[i];
        }
    }

    private static List<StoredOperation> ReadOperations(SqliteCommand command)
    {
        using var reader = command.ExecuteReader();
        var operations = new List<StoredOperation>();
        while (reader.Read())
        {
            operations.Add(new StoredOperation(
                reader.GetString(0),
                reader.IsDBNull(1) ? null : reader.GetString(1),
                reader.GetString(2),
                Guid.Parse(reader.GetString(3)),
                reader.GetString(4),
                JsonSerializer.Deserialize<OperationRequest>(reader.GetString(5), AgentJson.Options)!,
                Enum.Parse<OperationState>(reader.GetString(6)),
                reader.IsDBNull(7) ? null : reader.GetString(7),
                reader.IsDBNull(8) ? null : JsonSerializer.Deserialize<AgentProblem>(reader.GetString(8), AgentJson.Options),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(9)),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(10))));
        }

        return operations;
    }

    private void Execute(string sql)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private SqliteCommand Prepare(string sql, params string[] parameters)
    {
        var command = _connection.CreateCommand();
        command.CommandText = sql;
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new SqliteParameter(parameter, null));
        }

        command.Prepare();
        return command;
    }
}

/// <summary>One queued write: runs inside the writer's transaction, completes after the commit.</summary>
internal abstract class JournalWrite
{
    public abstract void Execute();

    /// <summary>Why this write alone failed inside its transaction, or null.</summary>
    public abstract Exception? Error { get; }

    public abstract void Committed();

    public abstract void Fail(Exception exception);
}

internal sealed class JournalWrite<T>(Func<T> write, Action<T>? afterCommit) : JournalWrite
{
    private T _result = default!;
    private Exception? _error;

    public TaskCompletionSource<T> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public override Exception? Error => _error;

    public override void Execute()
    {
        try
        {
            _result = write();
        }
        catch (SqliteException exception)
        {
            // This write alone failed (a constraint, say); the rest of the batch goes on.
            _error = exception;
        }
    }

    public override void Committed()
    {
        if (_error is not null)
        {
            Completion.TrySetException(_error);
            return;
        }

        afterCommit?.Invoke(_result);
        Completion.TrySetResult(_result);
    }

    public override void Fail(Exception exception) => Completion.TrySetException(exception);
}

/// <summary>The journal cannot be written (read-only, full, deleted or replaced); the request was not taken.</summary>
internal sealed class JournalUnavailableException(string problem, Exception? innerException = null)
    : HypervisorException(HypervisorErrorKind.Unavailable, $"The agent cannot take work: {problem}. Nothing was done.", innerException);
