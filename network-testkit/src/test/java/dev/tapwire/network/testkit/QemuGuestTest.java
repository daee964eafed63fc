package dev.tapwire.network.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tapwire.network.MacAddress;
import dev.tapwire.network.NicConfig;
import dev.tapwire.network.guest.GuestImage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The guest image and the guest runner against the real Debian cloud kernel: the modules load in the order
 * their own dependencies give, an image made from another kernel package is built again, and a guest whose
 * NIC driver or DHCP fails is reported at once with its console.
 */
class QemuGuestTest {

    /** How long a boot may take at most; a failing guest must be reported well within it. */
    private static final Duration BOOT = Duration.ofSeconds(120);

    private static Path image;

    @TempDir
    Path temp;

    @BeforeAll
    static void buildImage() throws Exception {
        HostRequirements.assume(QemuGuest.unavailabilityCause());
        image = QemuGuest.image(Path.of("target/guest"));
    }

    @Test
    void theInitramfsLoadsEachModuleAfterTheModulesItDependsOn() throws Exception {
        Path root = unpackInitrd(image, temp.resolve("initramfs"));
        List<String> order = Files.readAllLines(root.resolve("lib/modules/load-order"));
        assertThat(order).contains("virtio_ring.ko", "virtio.ko", "virtio_pci.ko", "virtio_net.ko");
        List<String> loaded = new ArrayList<>();
        for (String module : order) {
            String depends = sh("modinfo -F depends \"$1\"", root.resolve("lib/modules").resolve(module).toString())
                    .strip();
            for (String dependency : depends.isEmpty() ? new String[0] : depends.split(",")) {
                assertThat(loaded).as(module + " depends on " + dependency + " (its .modinfo)")
                        .contains(dependency);
            }
            loaded.add(module.replaceFirst("\\.ko$", ""));
        }
    }

    @Test
    void compressedModulesOfAKernelPackageAreUnpackedForTheGuestsInsmod() throws Exception {
        // the package the image was made from, its NIC modules xz-compressed as Debian's newer kernels ship them
        String key = Files.readString(image.resolve("image.key"));
        Path work = Files.createDirectories(temp.resolve("deb"));
        sh("cd \"$1\" && apt-get download -q \"$2=$3\" >/dev/null 2>&1 && dpkg-deb -R ./*.deb tree && rm ./*.deb"
                + " && find tree/lib/modules \\( -name 'virtio*.ko' -o -name '*failover.ko' \\) -exec xz {} +"
                + " && dpkg-deb -Znone -b tree compressed.deb >/dev/null", work.toString(),
                GuestImageKey.field(key, "kernel-package"), GuestImageKey.field(key, "kernel-version"));
        assertThat(sh("find \"$1\" -name 'virtio_ring.ko*'", work.resolve("tree").toString()).strip())
                .endsWith("virtio_ring.ko.xz");

        Path dir = GuestImage.build(temp.resolve("from-compressed"), work.resolve("compressed.deb")).dir();

        Path root = unpackInitrd(dir, temp.resolve("initramfs"));
        List<String> order = Files.readAllLines(root.resolve("lib/modules/load-order"));
        assertThat(order).isEqualTo(Files.readAllLines(unpackInitrd(image, temp.resolve("plain"))
                .resolve("lib/modules/load-order")));
        for (String module : order) {
            byte[] head = Arrays.copyOf(Files.readAllBytes(root.resolve("lib/modules").resolve(module)), 4);
            assertThat(head).as(module + " is plain ELF").isEqualTo(new byte[] {0x7f, 'E', 'L', 'F'});
        }
        assertThat(Files.readString(dir.resolve("image.key"))).contains("kernel-version=" + GuestImageKey.field(key,
                "kernel-version")).doesNotContain(GuestImageKey.field(key, "kernel-sha256"));
    }

    @Test
    void anImageMadeFromAnotherKernelPackageVersionIsBuiltAgain() throws Exception {
        Path dir = copyOfImage(temp.resolve("old"));
        String current = Files.readString(dir.resolve("image.key"));
        Files.writeString(dir.resolve("image.key"),
                current.replaceFirst("(?m)^kernel-version=.*$", "kernel-version=6.1.176-1"));
        Files.writeString(dir.resolve("vmlinuz"), "the kernel of 6.1.176-1");

        QemuGuest.image(dir);

        assertThat(dir.resolve("image.key")).hasContent(current);
        assertThat(Files.mismatch(dir.resolve("vmlinuz"), image.resolve("vmlinuz"))).isEqualTo(-1L);
    }

    @Test
    void anImageWithoutAKeyIsBuiltAgainAndOneOfTheSameInputsIsReused() throws Exception {
        Path dir = copyOfImage(temp.resolve("unkeyed"));
        Files.delete(dir.resolve("image.key")); // as a tapwire before keys left it
        Files.writeString(dir.resolve("initrd.img"), "an initramfs of unknown origin");

        QemuGuest.image(dir);
        assertThat(dir.resolve("image.key")).hasSameTextualContentAs(image.resolve("image.key"));
        assertThat(unpackInitrd(dir, temp.resolve("rebuilt")).resolve("lib/modules/load-order")).isNotEmptyFile();

        Files.writeString(dir.resolve("vmlinuz"), "kept: the key says it is current");
        QemuGuest.image(dir);
        assertThat(dir.resolve("vmlinuz")).hasContent("kept: the key says it is current");
    }

    @Test
    @IsolatedNetns
    void aGuestWhoseDriverCannotLoadIsReportedAtOnceWithItsConsole() throws Exception {
        // the order the initramfs used before: virtio ahead of virtio_ring, which it now depends on
        Path broken = copyOfImage(temp.resolve("broken"));
        Path root = unpackInitrd(broken, temp.resolve("initramfs"));
        List<String> order = new ArrayList<>(Files.readAllLines(root.resolve("lib/modules/load-order")));
        order.remove("virtio.ko");
        order.add(0, "virtio.ko");
        Files.write(root.resolve("lib/modules/load-order"), order);
        sh("cd \"$1\" && find . | cpio -o -H newc --quiet | gzip -1 > \"$2\"", root.toString(),
                broken.resolve("initrd.img").toString());

        long start = System.nanoTime();
        try (QemuGuest guest = QemuGuest.boot("broken", broken, nic("twbroken0"), null)) {
            assertThatThrownBy(() -> guest.await("TAPWIRE-LEASE", BOOT)).isInstanceOf(AssertionError.class)
                    .hasMessageContaining("guest broken failed: TAPWIRE-NO-DRIVER insmod virtio.ko failed")
                    .hasMessageContaining("unknown symbol")
                    .hasMessageContaining("console:\n");
        }
        assertThat(Duration.ofNanos(System.nanoTime() - start)).as("reported at once, not after " + BOOT)
                .isLessThan(Duration.ofSeconds(60));
    }

    @Test
    @IsolatedNetns
    void aGuestThatGetsNoLeaseIsReportedAtOnceWithItsConsole() throws Exception {
        long start = System.nanoTime();
        // a TAP that QEMU makes itself, on no bridge: no DHCP server answers
        try (QemuGuest guest = QemuGuest.boot("alone", image, nic("twalone0"), null)) {
            assertThatThrownBy(() -> guest.await("TAPWIRE-LEASE", BOOT)).isInstanceOf(AssertionError.class)
                    .hasMessageContaining("guest alone failed: TAPWIRE-NO-LEASE")
                    .hasMessageContaining("console:\n");
            // what the guest printed after its failure is still there: its shell runs
            assertThat(guest.await("TAPWIRE-NO-LEASE", Duration.ofSeconds(1)).group()).isEqualTo("TAPWIRE-NO-LEASE");
            assertThat(guest.run("echo still here", Duration.ofSeconds(20))).contains("still here");
        }
        assertThat(Duration.ofNanos(System.nanoTime() - start)).as("reported at once, not after " + BOOT)
                .isLessThan(Duration.ofSeconds(60));
    }

    /** Reads a line of an image key ({@code name=value}). */
    private static final class GuestImageKey {
        static String field(String key, String name) {
            return key.lines().filter(l -> l.startsWith(name + "=")).map(l -> l.substring(name.length() + 1))
                    .findFirst().orElseThrow(() -> new AssertionError("no " + name + " in " + key));
        }
    }

    private static NicConfig nic(String tap) {
        return new NicConfig(tap, MacAddress.parse("52:54:00:12:34:56"), 1, 256, null, null, null, null);
    }

    private static Path copyOfImage(Path dir) throws Exception {
        Files.createDirectories(dir);
        for (String file : List.of("vmlinuz", "initrd.img", "image.key")) {
            Files.copy(image.resolve(file), dir.resolve(file));
        }
        return dir;
    }

    private static Path unpackInitrd(Path image, Path dir) throws Exception {
        Files.createDirectories(dir);
        sh("cd \"$1\" && gzip -dc \"$2\" | cpio -idm --quiet", dir.toString(), image.resolve("initrd.img").toString());
        return dir;
    }

    /** Runs a shell script with arguments ($1, $2, ...) and sbin on the path; returns its output. */
    private static String sh(String script, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("sh", "-c", "PATH=$PATH:/usr/sbin:/sbin; " + script, "sh"));
        command.addAll(Arrays.asList(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(script + ": " + out).isZero();
        return out;
    }
}
