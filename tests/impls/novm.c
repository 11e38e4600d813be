/* novm.c — deliberately broken test implementation: vm_power_on answers
 * MMC_ENOTSUP, which the contract allows only for a config that asks for a
 * clear capability (there is no flag for running VMs). An implementation
 * that runs no VM must end NOT CERTIFIED, never certified by skipping.
 * Built as build/tests/impls/novm.so. */
#define TESTIMPL_NO_VMS
#define TESTIMPL_NAME "test-novm"
#include "minimal.c"
