package dev.tapwire.network.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tapwire.network.NetworkRecord;
import dev.tapwire.network.bridge.BridgeNetworkProvider;
import dev.tapwire.network.registry.FileNetworkRegistry;
import java.io.File;
import java.io.InputStream;
import java.lang.module.FindException;
import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.lang.module.ModuleReference;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * The BOM ({@code tapwire-bom/pom.xml}) manages what tapwire's public API exposes — every module a library module
 * requires transitively — and JNA, SLF4J and Jackson, each at the version tapwire is built and tested with (the jar
 * on this test's class path, which the parent pom chose).
 */
class BomTest {

    private static final Path BOM = Path.of("..", "tapwire-bom", "pom.xml");

    @Test
    void everyModuleTheLibraryRequiresTransitivelyIsManagedByTheBom() throws Exception {
        Map<String, String> managed = managedVersions();
        Set<String> exposed = new TreeSet<>();
        for (Class<?> module : List.of(NetworkRecord.class, FileNetworkRegistry.class, BridgeNetworkProvider.class)) {
            ModuleDescriptor descriptor = descriptorOf(module);
            descriptor.requires().stream().filter(r -> r.modifiers().contains(ModuleDescriptor.Requires.Modifier.TRANSITIVE))
                    .map(ModuleDescriptor.Requires::name).filter(n -> !n.startsWith("dev.tapwire.")).forEach(exposed::add);
        }
        assertThat(exposed).as("what network-api exposes").contains("com.fasterxml.jackson.annotation");
        for (String name : exposed) {
            Path jar = jarOfModule(name).orElseThrow(() -> new AssertionError("no jar of module " + name));
            assertThat(managed).as("the BOM manages " + jar.getFileName() + " (module " + name + ")")
                    .containsKey(artifactOf(jar));
        }
    }

    @Test
    void theBomManagesJacksonJnaAndSlf4jAtTheVersionsTapwireIsBuiltWith() throws Exception {
        Map<String, String> managed = managedVersions();
        Map<String, Class<?>> probes = Map.of(
                "com.fasterxml.jackson.core:jackson-annotations", com.fasterxml.jackson.annotation.JsonProperty.class,
                "com.fasterxml.jackson.core:jackson-core", com.fasterxml.jackson.core.JsonFactory.class,
                "com.fasterxml.jackson.core:jackson-databind", com.fasterxml.jackson.databind.ObjectMapper.class,
                "net.java.dev.jna:jna", com.sun.jna.Native.class,
                "org.slf4j:slf4j-api", org.slf4j.Logger.class);
        probes.forEach((artifact, probe) -> {
            Path jar = jarOf(probe);
            assertThat(managed).as(artifact).containsKey(artifact);
            String artifactId = artifact.substring(artifact.indexOf(':') + 1);
            assertThat(jar.getFileName().toString()).as("the version of " + artifact + " tapwire is built with")
                    .isEqualTo(artifactId + "-" + managed.get(artifact) + ".jar");
        });
    }

    /** The BOM's managed artifacts ({@code group:artifact}) and versions, its {@code ${properties}} resolved. */
    private static Map<String, String> managedVersions() throws Exception {
        Document pom = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(BOM.toFile());
        Map<String, String> properties = new HashMap<>();
        NodeList props = pom.getElementsByTagName("properties");
        if (props.getLength() > 0) {
            NodeList children = props.item(0).getChildNodes();
            for (int i = 0; i < children.getLength(); i++) {
                if (children.item(i) instanceof Element e) {
                    properties.put(e.getTagName(), e.getTextContent().strip());
                }
            }
        }
        Map<String, String> managed = new HashMap<>();
        NodeList dependencies = pom.getElementsByTagName("dependency");
        for (int i = 0; i < dependencies.getLength(); i++) {
            Element d = (Element) dependencies.item(i);
            String version = text(d, "version");
            Matcher m = Pattern.compile("\\$\\{(.+)}").matcher(version);
            if (m.matches() && properties.containsKey(m.group(1))) {
                version = properties.get(m.group(1));
            }
            managed.put(text(d, "groupId") + ":" + text(d, "artifactId"), version);
        }
        return managed;
    }

    private static String text(Element parent, String tag) {
        return parent.getElementsByTagName(tag).item(0).getTextContent().strip();
    }

    private static ModuleDescriptor descriptorOf(Class<?> type) throws Exception {
        Path classes = jarOf(type);
        if (Files.isDirectory(classes)) {
            try (InputStream in = Files.newInputStream(classes.resolve("module-info.class"))) {
                return ModuleDescriptor.read(in);
            }
        }
        return ModuleFinder.of(classes).findAll().iterator().next().descriptor();
    }

    /** The jar on the class path that holds module {@code name} (declared, or automatic). */
    private static Optional<Path> jarOfModule(String name) {
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            Path jar = Path.of(entry);
            if (!entry.endsWith(".jar")) {
                continue;
            }
            try {
                for (ModuleReference ref : ModuleFinder.of(jar).findAll()) {
                    if (ref.descriptor().name().equals(name)) {
                        return Optional.of(jar);
                    }
                }
            } catch (FindException e) {
                // a jar no module name can be derived for: not the one
            }
        }
        return Optional.empty();
    }

    /** {@code group:artifact} of a jar: from its {@code META-INF/maven/<group>/<artifact>/pom.properties}. */
    private static String artifactOf(Path jar) throws java.io.IOException {
        try (java.util.jar.JarFile file = new java.util.jar.JarFile(jar.toFile())) {
            return file.stream().map(java.util.zip.ZipEntry::getName)
                    .map(Pattern.compile("META-INF/maven/([^/]+)/([^/]+)/pom\\.properties")::matcher)
                    .filter(Matcher::matches).map(m -> m.group(1) + ":" + m.group(2)).findFirst()
                    .orElseThrow(() -> new AssertionError(jar + " says nothing of its Maven coordinates"));
        }
    }

    private static Path jarOf(Class<?> type) {
        try {
            return Path.of(type.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
