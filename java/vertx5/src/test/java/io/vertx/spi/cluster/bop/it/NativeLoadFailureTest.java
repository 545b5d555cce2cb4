package io.vertx.spi.cluster.bop.it;

import io.vertx.spi.cluster.bop.impl.jni.NativeLibrary;
import org.junit.AfterClass;
import org.junit.BeforeClass;
import org.junit.Test;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Enumeration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.stream.Stream;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

/**
 * When the native library cannot be loaded, {@link NativeLibrary#load()} throws an
 * {@link UnsatisfiedLinkError} that lists every way it tried, with the path each looked at and
 * why it failed, and throws the same error again on the next call. Runs the load in a child JVM
 * (the test JVM has the library loaded already) whose class path holds this module's classes
 * without the packed {@code native/} directory.
 */
public class NativeLoadFailureTest {

  /** Exit status of {@link Probe} when the load failed as expected. */
  static final int LOAD_FAILED = 42;

  private static final String LIBRARY_FILE = System.mapLibraryName("vertx_cluster");

  private static Path classesWithoutNative;

  @BeforeClass
  public static void copyClassesWithoutNative() throws Exception {
    classesWithoutNative = Files.createTempDirectory("bop-classes-without-native");
    Path source = Paths.get(NativeLibrary.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    if (Files.isDirectory(source)) {
      try (Stream<Path> files = Files.walk(source)) {
        for (Path file : (Iterable<Path>) files::iterator) {
          Path relative = source.relativize(file);
          if (relative.toString().isEmpty() || relative.startsWith("native")) {
            continue;
          }
          Path target = classesWithoutNative.resolve(relative.toString());
          if (Files.isDirectory(file)) {
            Files.createDirectories(target);
          } else {
            Files.copy(file, target);
          }
        }
      }
    } else {
      try (JarFile jar = new JarFile(source.toFile())) {
        for (Enumeration<JarEntry> entries = jar.entries(); entries.hasMoreElements(); ) {
          JarEntry entry = entries.nextElement();
          if (entry.isDirectory() || entry.getName().startsWith("native/")) {
            continue;
          }
          Path target = classesWithoutNative.resolve(entry.getName());
          Files.createDirectories(target.getParent());
          try (InputStream in = jar.getInputStream(entry)) {
            Files.copy(in, target);
          }
        }
      }
    }
    assertTrue("NativeLibrary must be in the copy",
      Files.isRegularFile(classesWithoutNative.resolve(NativeLibrary.class.getName().replace('.', '/') + ".class")));
    assertFalse(Files.exists(classesWithoutNative.resolve("native")));
  }

  @AfterClass
  public static void deleteCopy() throws IOException {
    if (classesWithoutNative != null) {
      try (Stream<Path> files = Files.walk(classesWithoutNative)) {
        files.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
      }
    }
  }

  @Test
  public void an_explicit_path_then_the_class_path_are_both_reported() throws Exception {
    String output = runProbe("-Djava.library.path=/nonexistent", "-D" + NativeLibrary.PATH_PROPERTY + "=/nonexistent/lib.so");
    assertContains(output, "cannot load the vertx_cluster native library");
    assertContains(output, "tried:");
    assertContains(output, "1. System.load(/nonexistent/lib.so) from -D" + NativeLibrary.PATH_PROPERTY);
    assertContains(output, "/nonexistent/lib.so is not a file");
    assertContains(output, "2. class path resource native/");
    assertContains(output, "/" + LIBRARY_FILE + ": not found");
    assertFalse("only two ways were tried:\n" + output, output.contains("3. "));
    assertContains(output, "same error again: true");
  }

  @Test
  public void java_library_path_then_the_class_path_are_both_reported() throws Exception {
    String output = runProbe("-Djava.library.path=/nonexistent");
    assertContains(output, "1. System.loadLibrary(\"vertx_cluster\") searching java.library.path=/nonexistent");
    assertContains(output, "2. class path resource native/");
    assertContains(output, "/" + LIBRARY_FILE + ": not found");
    assertFalse("only two ways were tried:\n" + output, output.contains("3. "));
    assertContains(output, "same error again: true");
  }

  /** Runs {@link Probe} in a child JVM with {@code properties}; returns its output after checking its status. */
  private static String runProbe(String... properties) throws IOException, InterruptedException, URISyntaxException {
    Path testClasses = Paths.get(Probe.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    List<String> command = new ArrayList<>();
    command.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
    command.add("-Xmx64m");
    command.addAll(Arrays.asList(properties));
    command.add("-cp");
    command.add(classesWithoutNative + File.pathSeparator + testClasses);
    command.add(Probe.class.getName());
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    process.getOutputStream().close();
    byte[] bytes;
    try (InputStream in = process.getInputStream()) {
      bytes = in.readAllBytes();
    }
    assertTrue("the child JVM did not exit", process.waitFor(Clusters.TIMEOUT_SECONDS, TimeUnit.SECONDS));
    String output = new String(bytes, StandardCharsets.UTF_8);
    assertEquals("exit status of " + command + ", output:\n" + output, LOAD_FAILED, process.exitValue());
    return output;
  }

  private static void assertContains(String output, String part) {
    assertTrue("output should contain \"" + part + "\":\n" + output, output.contains(part));
  }

  /** The child JVM's program: loads the library twice, prints the errors, exits with {@link #LOAD_FAILED}. */
  public static final class Probe {

    private Probe() {
    }

    public static void main(String[] args) {
      String first;
      try {
        NativeLibrary.load();
        System.out.println("loaded: " + NativeLibrary.loadedFrom());
        System.exit(1);
        return;
      } catch (UnsatisfiedLinkError e) {
        first = e.getMessage();
        System.out.println(first);
      }
      try {
        NativeLibrary.load();
        System.out.println("the second load succeeded");
        System.exit(2);
      } catch (UnsatisfiedLinkError e) {
        System.out.println("same error again: " + first.equals(e.getMessage()));
      }
      System.exit(LOAD_FAILED);
    }
  }
}
