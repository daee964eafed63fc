package dev.tapwire.network.guest;

import dev.tapwire.network.lock.Lease;
import dev.tapwire.network.lock.LockFile;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The guest image in a directory: {@code vmlinuz} from the Debian package that {@code linux-image-cloud-amd64}
 * depends on (fetched with {@code apt-get download}, unpacked with {@code dpkg -x}, never installed) and
 * {@code initrd.img}, a {@code busybox-static} initramfs holding the virtio-net modules in the order kmod's
 * {@code depmod}/{@code modprobe --show-depends} takes from the modules' own dependencies.
 *
 * <p>{@link #build} keys the image by what it is made of — the kernel package's name, version and SHA-256 as
 * apt knows them, the host's busybox and the build script — in {@code image.key}: an image made from another
 * kernel package version (a security update) or by another tapwire is built again, never reused.
 *
 * <pre>{@code
 * GuestImage image = GuestImage.build(Path.of("target/guest"));   // outside any private namespace
 * }</pre>
 */
public final class GuestImage {

    /** The Debian package whose dependency names the kernel image package. */
    public static final String KERNEL_META_PACKAGE = "linux-image-cloud-amd64";

    private static final Logger LOG = LoggerFactory.getLogger(GuestImage.class);
    private static final String SCRIPT = "build-guest.sh";
    private static final String KEY_FILE = "image.key";
    private static final Path BUSYBOX = Path.of("/bin/busybox");
    private static final Duration APT_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration BUILD_TIMEOUT = Duration.ofMinutes(10);
    private static final Pattern DEPENDS = Pattern.compile("(?m)^Depends:.*?\\b(linux-image-[^\\s,(]+)");

    private final Path dir;

    private GuestImage(Path dir) {
        this.dir = dir;
    }

    /**
     * Says why an image cannot be built here, naming the Debian packages to install.
     *
     * @return the reason, or empty when apt, dpkg, kmod, a static busybox, cpio and gzip are there
     */
    public static Optional<String> unavailabilityCause() {
        List<String> missing = new ArrayList<>();
        requireTool(missing, "apt-get", "apt");
        requireTool(missing, "dpkg", "dpkg");
        requireTool(missing, "depmod", "kmod");
        requireTool(missing, "modprobe", "kmod");
        requireTool(missing, "cpio", "cpio");
        requireTool(missing, "gzip", "gzip");
        if (!Files.isExecutable(BUSYBOX)) {
            missing.add("busybox is not installed (Debian package busybox-static)");
        }
        return missing.isEmpty() ? Optional.empty() : Optional.of(String.join("; ", missing));
    }

    private static void requireTool(List<String> missing, String tool, String debianPackage) {
        if (findTool(tool).isEmpty()) {
            missing.add(tool + " is not installed (Debian package " + debianPackage + ")");
        }
    }

    static Optional<Path> findTool(String tool) {
        for (String dir : List.of("/usr/bin", "/bin", "/usr/sbin", "/sbin")) {
            Path p = Path.of(dir, tool);
            if (Files.isExecutable(p)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }

    /**
     * Returns the image already in {@code dir} as it is, without checking what it was made from (e.g. a copy
     * made readable for another user).
     *
     * @param dir a directory holding {@code vmlinuz} and {@code initrd.img}
     * @return the image
     * @throws GuestImageException if either file is missing
     */
    public static GuestImage in(Path dir) {
        GuestImage image = new GuestImage(dir.toAbsolutePath());
        if (!image.isComplete()) {
            throw new GuestImageException("no guest image in " + dir + ": it needs vmlinuz and initrd.img");
        }
        return image;
    }

    /**
     * Builds the image in {@code dir} unless the image there was made from the same inputs: the kernel package
     * {@value #KERNEL_META_PACKAGE} depends on now (name, version, SHA-256), the host's busybox and the build
     * script. Another version or no {@code image.key} at all means a rebuild. When apt knows no such package
     * (no package lists), an existing image is reused with a warning. Needs the host's network to reach
     * Debian's mirror: call it before entering a private namespace. Processes building one directory take
     * turns.
     *
     * @param dir where the image goes (created when missing)
     * @return the image
     * @throws GuestImageException if apt cannot name the kernel package and no keyed image is there, or the
     *     build fails (the message carries the build's last output line; the log at debug level all of it)
     */
    public static GuestImage build(Path dir) {
        return build(dir, null);
    }

    /**
     * Builds the image in {@code dir} from a kernel package file (e.g. one kept for hosts without Debian's
     * mirror, or a kernel a manager pins) unless the image there was made from the same file (package name,
     * version and SHA-256), busybox and build script; {@link #build(Path)} explains the key.
     *
     * @param dir where the image goes (created when missing)
     * @param kernelPackage a Debian {@code linux-image-*} package file, or null for the one apt would download
     *     (as {@link #build(Path)})
     * @return the image
     * @throws GuestImageException if the file is no kernel package, or the build fails
     */
    public static GuestImage build(Path dir, Path kernelPackage) {
        GuestImage image = new GuestImage(dir.toAbsolutePath());
        try (Lease lease = LockFile.at(image.dir.resolve("image.lock")).acquire()) {
            Optional<String> existing = image.key();
            String wanted;
            try {
                wanted = kernelPackage == null ? wantedKey() : keyOf(kernelPackage);
            } catch (GuestImageException e) {
                if (kernelPackage == null && existing.isPresent() && image.isComplete()) {
                    LOG.warn("reusing the guest image in {} without knowing whether it is current: {}", image.dir,
                            e.getMessage());
                    return image;
                }
                throw e;
            }
            if (existing.isPresent() && existing.get().equals(wanted) && image.isComplete()) {
                LOG.debug("reusing the guest image in {}", image.dir);
                return image;
            }
            LOG.debug("building the guest image in {} ({}): {}", image.dir,
                    existing.isPresent() ? "made from other inputs" : "none there", wanted);
            image.rebuild(wanted, kernelPackage);
            return image;
        }
    }

    /**
     * Returns the directory that holds the image.
     *
     * @return the absolute directory
     */
    public Path dir() {
        return dir;
    }

    /**
     * Returns the kernel QEMU boots.
     *
     * @return {@code dir/vmlinuz}
     */
    public Path kernel() {
        return dir.resolve("vmlinuz");
    }

    /**
     * Returns the initramfs QEMU boots.
     *
     * @return {@code dir/initrd.img}
     */
    public Path initrd() {
        return dir.resolve("initrd.img");
    }

    /**
     * Returns what the image was made from, as {@link #build} wrote it ({@code key=value} lines).
     *
     * @return the key, or empty for an image without one (made elsewhere, or by a tapwire before keys)
     * @throws GuestImageException if the key file exists but cannot be read
     */
    public Optional<String> key() {
        Path file = dir.resolve(KEY_FILE);
        try {
            return Files.isRegularFile(file) ? Optional.of(Files.readString(file)) : Optional.empty();
        } catch (IOException e) {
            throw new GuestImageException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    @Override
    public String toString() {
        return "GuestImage[" + dir + "]";
    }

    private boolean isComplete() {
        return Files.isRegularFile(kernel()) && Files.isRegularFile(initrd());
    }

    private void rebuild(String key, Path kernelPackage) {
        Path keyFile = dir.resolve(KEY_FILE);
        Path script = null;
        try {
            Files.deleteIfExists(keyFile); // the old files are replaced one by one: no key until both are new
            script = Files.createTempFile("tapwire-build-guest-", ".sh");
            Files.write(script, script());
            List<String> command = new ArrayList<>(List.of("sh", script.toString(), dir.toString(),
                    field(key, "kernel-package"), field(key, "kernel-version")));
            if (kernelPackage != null) {
                command.add(kernelPackage.toAbsolutePath().toString());
            }
            Process build = new ProcessBuilder(command).redirectErrorStream(true).start();
            String out = output(build, BUILD_TIMEOUT);
            LOG.debug("guest image build in {}:\n{}", dir, out);
            if (build.exitValue() != 0) {
                throw new GuestImageException("building the guest image in " + dir + " failed (exit status "
                        + build.exitValue() + "): " + lastLine(out));
            }
            Path temp = dir.resolve(KEY_FILE + ".tmp");
            Files.writeString(temp, key);
            Files.move(temp, keyFile, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new GuestImageException("building the guest image in " + dir + " failed: " + e.getMessage(), e);
        } finally {
            if (script != null) {
                try {
                    Files.deleteIfExists(script);
                } catch (IOException e) {
                    LOG.debug("cannot remove {}: {}", script, e.getMessage());
                }
            }
        }
    }

    /** The key of an image built now: the kernel package apt would download, busybox, the build script. */
    static String wantedKey() {
        String meta = apt("show", "--no-all-versions", KERNEL_META_PACKAGE);
        Matcher depends = DEPENDS.matcher(meta);
        if (!depends.find()) {
            throw new GuestImageException(KERNEL_META_PACKAGE + " depends on no linux-image package here");
        }
        String pkg = depends.group(1);
        String record = apt("show", "--no-all-versions", pkg);
        return key(pkg, aptField(record, "Version", pkg), aptField(record, "SHA256", pkg));
    }

    /** The key of an image built now from a package file: its name and version as dpkg reads them, its SHA-256. */
    static String keyOf(Path kernelPackage) {
        String fields = run(List.of(findTool("dpkg-deb").map(Path::toString).orElse("dpkg-deb"), "-f",
                kernelPackage.toString(), "Package", "Version"), "read " + kernelPackage + " with dpkg-deb");
        String pkg = aptField(fields, "Package", kernelPackage.toString());
        if (!pkg.startsWith("linux-image-")) {
            throw new GuestImageException(kernelPackage + " holds " + pkg + ", not a linux-image-* kernel package");
        }
        try {
            return key(pkg, aptField(fields, "Version", pkg), sha256(Files.readAllBytes(kernelPackage)));
        } catch (IOException e) {
            throw new GuestImageException("cannot read " + kernelPackage + ": " + e.getMessage(), e);
        }
    }

    private static String key(String pkg, String version, String sha256) {
        return "# what this guest image was made from; when any line differs, tapwire builds it again\n"
                + "kernel-package=" + pkg + "\n"
                + "kernel-version=" + version + "\n"
                + "kernel-sha256=" + sha256 + "\n"
                + "busybox-sha256=" + sha256(readBusybox()) + "\n"
                + "builder-sha256=" + sha256(script()) + "\n";
    }

    static String field(String key, String name) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + "=(.*)$").matcher(key);
        if (!m.find()) {
            throw new GuestImageException("the guest image key has no " + name + ": " + key);
        }
        return m.group(1);
    }

    private static String apt(String... args) {
        List<String> command = new ArrayList<>();
        command.add(findTool("apt-cache").map(Path::toString).orElse("apt-cache"));
        command.addAll(List.of(args));
        String pkg = args[args.length - 1];
        return run(command, "apt-cache knows no " + pkg + " (run apt-get update)");
    }

    /** Runs a command and returns its output; {@code failure} says what it means when the command fails. */
    private static String run(List<String> command, String failure) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            String out = output(p, APT_TIMEOUT);
            if (p.exitValue() != 0) {
                throw new GuestImageException(failure + ": " + lastLine(out));
            }
            return out;
        } catch (IOException e) {
            throw new GuestImageException("cannot run " + command.get(0) + ": " + e.getMessage(), e);
        }
    }

    private static String aptField(String record, String field, String pkg) {
        Matcher m = Pattern.compile("(?m)^" + field + ": (\\S+)").matcher(record);
        if (!m.find()) {
            throw new GuestImageException("no " + field + " for " + pkg + " in: " + record.strip());
        }
        return m.group(1);
    }

    private static String output(Process p, Duration timeout) throws IOException {
        p.getOutputStream().close();
        // read on another thread: a hung process must not hang the caller past the timeout
        StringBuilder text = new StringBuilder();
        Thread reader = new Thread(() -> {
            try (InputStream in = p.getInputStream()) {
                String s = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                synchronized (text) {
                    text.append(s);
                }
            } catch (IOException e) {
                LOG.debug("reading {} ended: {}", p, e.getMessage());
            }
        }, "tapwire-guest-image-output");
        reader.setDaemon(true);
        reader.start();
        try {
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new GuestImageException(p.info().command().orElse("a process") + " did not finish within "
                        + timeout);
            }
            reader.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new GuestImageException("interrupted while building the guest image", e);
        }
        synchronized (text) {
            return text.toString();
        }
    }

    private static String lastLine(String out) {
        String[] lines = out.strip().split("\n");
        return lines[lines.length - 1].strip();
    }

    private static byte[] readBusybox() {
        try {
            return Files.readAllBytes(BUSYBOX);
        } catch (IOException e) {
            throw new GuestImageException("cannot read " + BUSYBOX + " (Debian package busybox-static): "
                    + e.getMessage(), e);
        }
    }

    private static byte[] script() {
        try (InputStream in = GuestImage.class.getResourceAsStream(SCRIPT)) {
            if (in == null) {
                throw new GuestImageException(SCRIPT + " is missing from the network-guest jar");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new GuestImageException("cannot read " + SCRIPT + " from the network-guest jar: " + e.getMessage(), e);
        }
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new GuestImageException("SHA-256 is missing from this JVM", e); // every JVM must have it
        }
    }
}
