package io.vertx.spi.cluster.bop.impl.jni;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Loads the Rust core ({@code vertx_cluster}) into the JVM, once, before any {@link BopNative}
 * call.
 *
 * <p>The ways, in order, each tried only if the ones before failed:
 * <ol>
 *   <li>if the system property {@value #PATH_PROPERTY} is set: {@code System.load} of that file;
 *       otherwise {@code System.loadLibrary("vertx_cluster")}, which searches
 *       {@code java.library.path};</li>
 *   <li>the copy packed in the jar by the Maven build, {@code native/<os>-<arch>/<file>} on the class
 *       path (os {@code linux|osx|windows}, arch {@code x86_64|aarch_64}, the names
 *       {@code os-maven-plugin} gives at build time), extracted to a temporary file that is deleted
 *       when the JVM exits (directory: {@value #TMPDIR_PROPERTY}, else {@code java.io.tmpdir}).</li>
 * </ol>
 * A way succeeds when the library loads and {@link BopNative#version()} answers a line starting
 * with {@code vertx-cluster}; a library that loads but fails that check (a foreign or stale file
 * on {@code java.library.path}) does not stop the search. When every way fails, the
 * {@link UnsatisfiedLinkError} lists each way with its path and why it failed. The outcome,
 * success or failure, is remembered: later calls return at once or throw the same error.
 * Thread-safe.
 */
public final class NativeLibrary {

  /** The library's name for {@link System#loadLibrary}. */
  static final String LIBRARY_NAME = "vertx_cluster";
  /** Names the library file to load instead of searching {@code java.library.path}. */
  public static final String PATH_PROPERTY = "vertx.bop.native.path";
  /** The directory the library is extracted to (default {@code java.io.tmpdir}). */
  public static final String TMPDIR_PROPERTY = "vertx.bop.native.tmpdir";
  /** What {@link BopNative#version()} starts with. */
  static final String VERSION_PREFIX = "vertx-cluster";

  private static final Object LOCK = new Object();
  private static volatile boolean loaded;
  private static volatile String loadedFrom;
  private static String failure;

  private NativeLibrary() {
  }

  /**
   * Loads the library unless it already is.
   *
   * @throws UnsatisfiedLinkError listing every way tried and why each failed
   */
  public static void load() {
    if (loaded) {
      return;
    }
    synchronized (LOCK) {
      if (loaded) {
        return;
      }
      if (failure != null) {
        throw new UnsatisfiedLinkError(failure);
      }
      List<String> attempts = new ArrayList<>();
      String explicit = System.getProperty(PATH_PROPERTY);
      boolean ok;
      if (explicit != null && !explicit.trim().isEmpty()) {
        ok = loadFile(Paths.get(explicit.trim()).toAbsolutePath().toString(),
          "System.load(" + explicit.trim() + ") from -D" + PATH_PROPERTY, attempts);
      } else {
        ok = loadFromLibraryPath(attempts);
      }
      if (!ok) {
        ok = loadFromClassPath(attempts);
      }
      if (!ok) {
        StringBuilder message = new StringBuilder("cannot load the ")
          .append(LIBRARY_NAME).append(" native library for platform ").append(platformDirectory())
          .append(" (os.name=").append(System.getProperty("os.name"))
          .append(", os.arch=").append(System.getProperty("os.arch")).append("); tried:");
        for (int i = 0; i < attempts.size(); i++) {
          message.append("\n  ").append(i + 1).append(". ").append(attempts.get(i));
        }
        message.append("\nBuild the jar with `mvn -f java/pom.xml package` (runs cargo), or set -D")
          .append(PATH_PROPERTY).append(" to the library file.");
        failure = message.toString();
        throw new UnsatisfiedLinkError(failure);
      }
      loaded = true;
    }
  }

  /** True once {@link #load()} succeeded. */
  public static boolean isLoaded() {
    return loaded;
  }

  /** How the library was loaded (for diagnostics), or null before {@link #load()} succeeded. */
  public static String loadedFrom() {
    return loadedFrom;
  }

  private static boolean loadFromLibraryPath(List<String> attempts) {
    String way = "System.loadLibrary(\"" + LIBRARY_NAME + "\") searching java.library.path="
      + System.getProperty("java.library.path");
    try {
      System.loadLibrary(LIBRARY_NAME);
    } catch (UnsatisfiedLinkError | SecurityException e) {
      attempts.add(way + ": " + e.getMessage());
      return false;
    }
    return checkVersion(way, attempts);
  }

  private static boolean loadFromClassPath(List<String> attempts) {
    String resource = resourceName();
    String way = "class path resource " + resource;
    ClassLoader loader = NativeLibrary.class.getClassLoader();
    InputStream in = loader != null ? loader.getResourceAsStream(resource)
      : ClassLoader.getSystemResourceAsStream(resource);
    if (in == null) {
      attempts.add(way + ": not found (no jar with a library for " + platformDirectory()
        + " on the class path)");
      return false;
    }
    Path file;
    try (InputStream source = in) {
      String tmpdir = System.getProperty(TMPDIR_PROPERTY);
      Path dir = tmpdir != null && !tmpdir.trim().isEmpty()
        ? Paths.get(tmpdir.trim()) : Paths.get(System.getProperty("java.io.tmpdir"));
      Files.createDirectories(dir);
      String fileName = libraryFileName();
      int dot = fileName.lastIndexOf('.');
      file = Files.createTempFile(dir, fileName.substring(0, dot) + "-", fileName.substring(dot));
      file.toFile().deleteOnExit();
      Files.copy(source, file, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException | RuntimeException e) {
      attempts.add(way + ": extraction failed: " + e);
      return false;
    }
    return loadFile(file.toString(), way + " extracted to " + file, attempts);
  }

  private static boolean loadFile(String path, String way, List<String> attempts) {
    if (!new File(path).isFile()) {
      attempts.add(way + ": " + path + " is not a file");
      return false;
    }
    try {
      System.load(path);
    } catch (UnsatisfiedLinkError | SecurityException e) {
      attempts.add(way + ": " + e.getMessage());
      return false;
    }
    return checkVersion(way, attempts);
  }

  private static boolean checkVersion(String way, List<String> attempts) {
    String version;
    try {
      version = BopNative.version();
    } catch (UnsatisfiedLinkError e) {
      attempts.add(way + ": loaded, but it lacks the BopNative natives (" + e.getMessage()
        + "): not a vertx-cluster JNI library, or one built without rust/jni");
      return false;
    } catch (RuntimeException e) {
      attempts.add(way + ": loaded, but BopNative.version() failed: " + e);
      return false;
    }
    if (version == null || !version.startsWith(VERSION_PREFIX)) {
      attempts.add(way + ": loaded, but BopNative.version() returned " + quote(version)
        + " where a line starting with \"" + VERSION_PREFIX + "\" was expected");
      return false;
    }
    loadedFrom = way + " (" + version + ")";
    return true;
  }

  private static String quote(String s) {
    return s == null ? "null" : "\"" + s + "\"";
  }

  // ---- platform names, shared with the Maven build (os-maven-plugin) -----------------------------

  /** {@code <os>-<arch>} of this JVM, e.g. {@code linux-x86_64}, {@code osx-aarch_64}. */
  static String platformDirectory() {
    return platformDirectory(System.getProperty("os.name", ""), System.getProperty("os.arch", ""));
  }

  /** {@code <os>-<arch>} for the given {@code os.name} and {@code os.arch}. */
  static String platformDirectory(String osName, String osArch) {
    return normalizeOs(osName) + "-" + normalizeArch(osArch);
  }

  /** The library's file name on this OS, e.g. {@code libvertx_cluster.so}. */
  static String libraryFileName() {
    return System.mapLibraryName(LIBRARY_NAME);
  }

  /** The class path resource holding the library for this JVM's platform. */
  static String resourceName() {
    return resourceName(platformDirectory(), libraryFileName());
  }

  /** The class path resource of a library file for a platform directory. */
  static String resourceName(String platformDirectory, String libraryFileName) {
    return "native/" + platformDirectory + "/" + libraryFileName;
  }

  /** {@code os.name} as os-maven-plugin's {@code os.detected.name} names it. */
  static String normalizeOs(String value) {
    String v = normalize(value);
    if (v.startsWith("linux")) {
      return "linux";
    }
    if (v.startsWith("macosx") || v.startsWith("osx") || v.startsWith("darwin") || v.startsWith("mac")) {
      return "osx";
    }
    if (v.startsWith("windows")) {
      return "windows";
    }
    if (v.startsWith("freebsd")) {
      return "freebsd";
    }
    if (v.startsWith("openbsd")) {
      return "openbsd";
    }
    if (v.startsWith("netbsd")) {
      return "netbsd";
    }
    if (v.startsWith("solaris") || v.startsWith("sunos")) {
      return "sunos";
    }
    if (v.startsWith("aix")) {
      return "aix";
    }
    return "unknown";
  }

  /** {@code os.arch} as os-maven-plugin's {@code os.detected.arch} names it. */
  static String normalizeArch(String value) {
    String v = normalize(value);
    if (v.matches("^(x8664|amd64|ia32e|em64t|x64)$")) {
      return "x86_64";
    }
    if (v.matches("^(x8632|x86|i[3-6]86|ia32|x32)$")) {
      return "x86_32";
    }
    if (v.equals("aarch64")) {
      return "aarch_64";
    }
    if (v.matches("^(arm|arm32)$")) {
      return "arm_32";
    }
    if (v.equals("ppc64le")) {
      return "ppcle_64";
    }
    if (v.equals("ppc64")) {
      return "ppc_64";
    }
    if (v.equals("s390x")) {
      return "s390_64";
    }
    if (v.equals("riscv64")) {
      return "riscv64";
    }
    if (v.equals("loongarch64")) {
      return "loongarch_64";
    }
    return "unknown";
  }

  private static String normalize(String value) {
    return value == null ? "" : value.toLowerCase(Locale.US).replaceAll("[^a-z0-9]+", "");
  }
}
