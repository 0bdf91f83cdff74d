// Command govmomi-bench is the reference for the ESX driver's benchmark (`Hypervisors.Bench esx`): the same phases
// with VMware's own Go client, govmomi, idiomatically (CreateVM/PowerOn/PowerOff/Destroy, each task awaited with
// Task.Wait, and one ContainerView retrieval for the listing), printing one JSON line with the same keys.
//
// Build in GOPATH mode against Debian's golang-github-vmware-govmomi-dev:
//
//	GOPATH=/usr/share/gocode GO111MODULE=off go build -o govmomi-bench .
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

func main() {
	rawURL := flag.String("url", "", "SDK URL, e.g. http://127.0.0.1:8989/sdk")
	n := flag.Int("n", 1000, "VMs")
	p := flag.Int("p", 8, "operations in flight")
	user := flag.String("user", "user", "user name")
	password := flag.String("password", "pass", "password")
	insecure := flag.Bool("insecure", false, "skip TLS verification (https only)")
	flag.Parse()

	if err := run(*rawURL, *n, *p, *user, *password, *insecure); err != nil {
		fmt.Fprintln(os.Stderr, "govmomi-bench:", err)
		os.Exit(1)
	}
}

func run(rawURL string, n, p int, user, password string, insecure bool) error {
	ctx := context.Background()
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	u.User = url.UserPassword(user, password)
	c, err := govmomi.NewClient(ctx, u, insecure)
	if err != nil {
		return err
	}
	defer c.Logout(ctx)

	finder := find.NewFinder(c.Client, true)
	dc, err := finder.DefaultDatacenter(ctx)
	if err != nil {
		return err
	}
	finder.SetDatacenter(dc)
	folders, err := dc.Folders(ctx)
	if err != nil {
		return err
	}
	pool, err := finder.DefaultResourcePool(ctx)
	if err != nil {
		return err
	}
	ds, err := finder.DefaultDatastore(ctx)
	if err != nil {
		return err
	}

	run := strings.ReplaceAll(uuid.New().String(), "-", "")[:8]
	vms := make([]*object.VirtualMachine, n)
	phases := make([]float64, 5)
	clock := time.Now()
	lap := func(i int) {
		phases[i] = float64(time.Since(clock).Microseconds()) / 1000
		clock = time.Now()
	}

	err = parallel(n, p, func(i int) error {
		id := uuid.New().String()
		name := fmt.Sprintf("bench-%s-%d", run, i)
		spec := types.VirtualMachineConfigSpec{
			Name:         name,
			GuestId:      "otherGuest64",
			InstanceUuid: id,
			NumCPUs:      1,
			MemoryMB:     64,
			Files:        &types.VirtualMachineFileInfo{VmPathName: "[" + ds.Name() + "]"},
			// The same extraConfig the C# driver writes: the id and the create request.
			ExtraConfig: []types.BaseOptionValue{
				&types.OptionValue{Key: "hypervisors.id", Value: id},
				&types.OptionValue{Key: "hypervisors.spec", Value: fmt.Sprintf(`{"Id":"%s","Name":"%s","VCpus":1,"MemoryMiB":64,"Disks":[],"NetworkInterfaces":[],"Metadata":{},"StartAfterCreate":false}`, id, name)},
			},
		}
		task, err := folders.VmFolder.CreateVM(ctx, spec, pool, nil)
		if err != nil {
			return err
		}
		info, err := task.WaitForResult(ctx, nil)
		if err != nil {
			return err
		}
		vms[i] = object.NewVirtualMachine(c.Client, info.Result.(types.ManagedObjectReference))
		return nil
	})
	if err != nil {
		return err
	}
	lap(0)

	if err = parallel(n, p, func(i int) error { return wait(vms[i].PowerOn(ctx)) }); err != nil {
		return err
	}
	lap(1)

	m := view.NewManager(c.Client)
	v, err := m.CreateContainerView(ctx, folders.VmFolder.Reference(), []string{"VirtualMachine"}, true)
	if err != nil {
		return err
	}
	var listed []mo.VirtualMachine
	err = v.Retrieve(ctx, []string{"VirtualMachine"},
		[]string{"name", "runtime.powerState", "config.hardware.numCPU", "config.hardware.memoryMB", "config.instanceUuid", "config.extraConfig"}, &listed)
	if err != nil {
		return err
	}
	_ = v.Destroy(ctx)
	lap(2)
	running := 0
	for _, vm := range listed {
		if vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn && vm.Config != nil && vm.Config.Hardware.NumCPU == 1 && vm.Config.Hardware.MemoryMB == 64 {
			running++
		}
	}
	if running < n {
		return fmt.Errorf("the list showed %d of the %d VMs running with 1 vCPU and 64 MiB", running, n)
	}

	if err = parallel(n, p, func(i int) error { return wait(vms[i].PowerOff(ctx)) }); err != nil {
		return err
	}
	lap(3)
	if err = parallel(n, p, func(i int) error { return wait(vms[i].Destroy(ctx)) }); err != nil {
		return err
	}
	lap(4)

	total := 0.0
	for _, ms := range phases {
		total += ms
	}
	out, _ := json.Marshal(map[string]interface{}{
		"impl": "govmomi", "n": n, "p": p,
		"create_ms": phases[0], "power_on_ms": phases[1], "list_ms": phases[2], "power_off_ms": phases[3], "destroy_ms": phases[4], "total_ms": total,
	})
	fmt.Println(string(out))
	return nil
}

func wait(task *object.Task, err error) error {
	if err != nil {
		return err
	}
	return task.Wait(context.Background())
}

// parallel runs f(0..n-1) with p calls in flight and returns the first error.
func parallel(n, p int, f func(int) error) error {
	next := make(chan int)
	errs := make(chan error, p)
	var wg sync.WaitGroup
	for w := 0; w < p; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var first error
	for i := 0; i < n && first == nil; i++ {
		select {
		case next <- i:
		case first = <-errs:
		}
	}
	close(next)
	wg.Wait()
	if first == nil {
		select {
		case first = <-errs:
		default:
		}
	}
	return first
}
