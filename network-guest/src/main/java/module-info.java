/**
 * Real QEMU guests on TAPs tapwire made: the guest image (a Debian cloud kernel and a busybox initramfs, built
 * from Debian packages) and a QEMU runner driven through the serial console. No test library: the
 * {@code tapwire demo} command boots these guests, and the testkit's {@code QemuGuest} wraps them for tests.
 */
module dev.tapwire.network.guest {
    requires transitive dev.tapwire.network.api;
    requires org.slf4j;

    exports dev.tapwire.network.guest;
}
