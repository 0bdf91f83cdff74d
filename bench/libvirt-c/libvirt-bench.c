/*
 * The libvirt C API reference for the `libvirt` subcommand of bench/Hypervisors.Bench: the same phases on the
 * domain XML the driver sends (its shape and its metadata element with the spec envelope, random version-4 UUIDs as
 * callers' ids are), timed the same way.
 *
 *   cc -O2 -o libvirt-bench libvirt-bench.c -lvirt
 *   ./libvirt-bench --uri test:///default -n 10000 [--plain]
 *
 * By default each phase keeps the contract's semantics, as the driver must: define first looks the UUID up (a repeated
 * create must be recognised, and virDomainDefineXML would silently redefine an existing domain), start first checks
 * for a managed-save image (starting would restore it), undefine first checks whether the domain is active (delete
 * powers off if needed). --plain drops those checks and measures the bare calls.
 *
 * Prints one JSON line: define_ms, start_ms, list_info_ms, destroy_ms, undefine_ms, total_ms (wall clock), and
 * cpu_ms (the process's CPU time over the same phases).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* CPU time of the whole process (user + system), less disturbed by other load than wall time. */
static double cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000.0 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.0;
}

static void fail(const char *what)
{
    virErrorPtr err = virGetLastError();
    fprintf(stderr, "%s failed: %s\n", what, err && err->message ? err->message : "unknown error");
    exit(1);
}

static void ignore_error(void *data, virErrorPtr err)
{
    (void)data;
    (void)err;
}

int main(int argc, char **argv)
{
    const char *uri = "test:///default";
    int n = 10000;
    int plain = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--plain") == 0)
            plain = 1;
        else if (strcmp(argv[i], "--uri") == 0 && i + 1 < argc)
            uri = argv[++i];
        else if ((strcmp(argv[i], "-n") == 0 || strcmp(argv[i], "--n") == 0) && i + 1 < argc)
            n = atoi(argv[++i]);
    }

    virSetErrorFunc(NULL, ignore_error);
    virConnectPtr conn = virConnectOpen(uri);
    if (!conn)
        fail("virConnectOpen");

    virDomainPtr *doms = calloc(n, sizeof(*doms));
    char xml[2048];
    srand((unsigned)time(NULL));
    unsigned int run = (unsigned)rand();

    double c0 = cpu_ms();
    double t0 = now_ms();
    for (int i = 0; i < n; i++) {
        char uuid[VIR_UUID_STRING_BUFLEN];
        snprintf(uuid, sizeof(uuid), "%08x-%04x-4%03x-8%03x-%08x%04x", (unsigned)rand(), (unsigned)rand() & 0xffff,
                 (unsigned)rand() & 0xfff, (unsigned)rand() & 0xfff, (unsigned)rand(), (unsigned)rand() & 0xffff);
        /* Byte for byte the document the driver sends: its metadata holds the spec as the SDK's JSON envelope. */
        snprintf(xml, sizeof(xml),
                 "<domain type=\"test\"><name>bench-c-%08x-%d</name><uuid>%s</uuid>"
                 "<metadata><hv:instance xmlns:hv=\"https://github.com/hypervisors-sdk/libvirt/instance/1\">"
                 "<hv:spec>{\"version\":1,\"spec\":{\"id\":\"%s\",\"name\":\"bench-c-%08x-%d\",\"vCpus\":1,"
                 "\"memoryMiB\":64,\"disks\":[],\"networkInterfaces\":[],\"metadata\":{},\"startAfterCreate\":false}}</hv:spec>"
                 "</hv:instance></metadata>"
                 "<memory unit=\"MiB\">64</memory><vcpu>1</vcpu>"
                 "<os><type arch=\"x86_64\">hvm</type><boot dev=\"hd\" /></os>"
                 "<features><acpi /></features><on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot>"
                 "<on_crash>destroy</on_crash><devices /></domain>",
                 run, i, uuid, uuid, run, i);
        if (!plain) {
            /* The id must be free; a miss is the expected answer. */
            virDomainPtr existing = virDomainLookupByUUIDString(conn, uuid);
            if (existing) {
                fprintf(stderr, "domain %s exists already\n", uuid);
                return 1;
            }
            virResetLastError();
        }
        doms[i] = virDomainDefineXML(conn, xml);
        if (!doms[i])
            fail("virDomainDefineXML");
    }
    double t1 = now_ms();
    for (int i = 0; i < n; i++) {
        if (!plain && virDomainHasManagedSaveImage(doms[i], 0) != 0)
            fail("virDomainHasManagedSaveImage");
        if (virDomainCreate(doms[i]) < 0)
            fail("virDomainCreate");
    }
    double t2 = now_ms();

    virDomainPtr *list = NULL;
    int count = virConnectListAllDomains(conn, &list, 0);
    if (count < 0)
        fail("virConnectListAllDomains");
    long long checksum = 0;
    for (int i = 0; i < count; i++) {
        virDomainInfo info;
        unsigned char uuid[VIR_UUID_BUFLEN];
        if (virDomainGetInfo(list[i], &info) < 0)
            fail("virDomainGetInfo");
        if (virDomainGetUUID(list[i], uuid) < 0)
            fail("virDomainGetUUID");
        const char *name = virDomainGetName(list[i]);
        checksum += info.state + info.nrVirtCpu + uuid[0] + (name ? name[0] : 0);
        virDomainFree(list[i]);
    }
    free(list);
    double t3 = now_ms();

    for (int i = 0; i < n; i++)
        if (virDomainDestroy(doms[i]) < 0)
            fail("virDomainDestroy");
    double t4 = now_ms();
    for (int i = 0; i < n; i++) {
        if (!plain) {
            int active = virDomainIsActive(doms[i]);
            if (active < 0)
                fail("virDomainIsActive");
            if (active && virDomainDestroy(doms[i]) < 0)
                fail("virDomainDestroy");
        }
        if (virDomainUndefineFlags(doms[i], VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA) < 0)
            fail("virDomainUndefineFlags");
        virDomainFree(doms[i]);
    }
    double t5 = now_ms();
    double c5 = cpu_ms();

    if (count < n) {
        fprintf(stderr, "listed %d domains, expected at least %d\n", count, n);
        return 1;
    }

    printf("{\"impl\":\"%s\",\"uri\":\"%s\",\"n\":%d,\"listed\":%d,\"define_ms\":%.1f,\"start_ms\":%.1f,\"list_info_ms\":%.1f,"
           "\"destroy_ms\":%.1f,\"undefine_ms\":%.1f,\"total_ms\":%.1f,\"cpu_ms\":%.1f,\"checksum\":%lld}\n",
           plain ? "c-plain" : "c", uri, n, count, t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t5 - t0, c5 - c0, checksum);
    free(doms);
    virConnectClose(conn);
    return 0;
}
