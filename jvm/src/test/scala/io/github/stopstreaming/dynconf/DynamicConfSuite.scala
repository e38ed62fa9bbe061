package io.github.stopstreaming.dynconf

import java.nio.file.Files

import io.github.stopstreaming.core.{ConfChangeException, DynamicConfStore}
import io.github.stopstreaming.fs.{ConfFile, FaultyFileSystem}
import io.github.stopstreaming.rest.Outcomes
import io.github.stopstreaming.runtime.StopStreamingRuntime
import org.apache.hadoop.fs.Path
import org.apache.spark.sql.SparkSession
import org.scalatest.funsuite.AnyFunSuite

class DynamicConfSuite extends AnyFunSuite {
  private def memory(seed: Map[String, String] = Map.empty) = DynamicConfStore.open(seed, None)

  private def status(body: => Any): Int = Outcomes.confStatus(intercept[ConfChangeException](body).rejection)

  test("versions grow with every change; entries keep the version of their last change") {
    val s = memory(Map("b" -> "2", "a" -> "1"))
    assert(s.version == 2 && s.get("a").map(_.version).contains(1L) && s.get("b").map(_.version).contains(2L))
    val e = s.put("a", "one", None)
    assert(e.version == 3 && s.version == 3 && s.get("a").map(_.value).contains("one"))
    assert(s.delete("b", None).map(_.value).contains("2") && s.version == 4)
    assert(s.delete("b", None).isEmpty && s.version == 4, "deleting what is absent changes nothing")
  }

  test("listeners are told every snapshot once, whatever the number of concurrent writers") {
    val s = memory()
    val told = new java.util.concurrent.ConcurrentLinkedQueue[Long]()
    s.addListener(snap => told.add(snap.version))
    val writers = 8
    val each = 250
    val start = new java.util.concurrent.CountDownLatch(1)
    val threads = (0 until writers).map { w =>
      val t = new Thread(() => {
        start.await()
        (0 until each).foreach { i =>
          if (i % 5 == 4) s.delete(s"k$w", None) else s.put(s"k$w", s"$i", None)
        }
      })
      t.start()
      t
    }
    start.countDown()
    threads.foreach(_.join(60000))
    val versions = told.toArray.map(_.asInstanceOf[Long]).toSeq
    assert(s.version == writers * each)
    assert(versions.size == writers * each, s"${writers * each - versions.distinct.size} snapshots never told")
    assert(versions.sorted == (1L to (writers * each).toLong), "each version once")
  }

  test("the audit trail records each change with the version it published, whatever the concurrent writers") {
    import io.github.stopstreaming.core.{AuditRecord, Caller, ControlPlane, ControlSettings}
    val plane = new ControlPlane(ControlSettings.fromConf(Map.empty, Map.empty), memory())
    try {
      val writers = 8
      val each = 100
      val threads = (0 until writers).map { w =>
        val t = new Thread(() =>
          (0 until each).foreach { i =>
            if (i % 4 == 3) plane.unsetConf(s"k$w", None, "rest", Caller.Internal)
            else plane.setConf(s"k$w", s"$i", None, "rest", Caller.Internal)
          }
        )
        t.start()
        t
      }
      threads.foreach(_.join(60000))
      val versions = plane.audit.since(0).filter(_.kind == AuditRecord.ConfChanged).map(_.options("version").toLong)
      assert(versions.sorted == (1L to (writers * each).toLong), "each published version recorded once")
    } finally plane.close()
  }

  test("compare-and-set: the expected version must match; 0 means absent") {
    val s = memory()
    assert(s.put("k", "v1", Some(0L)).version == 1)
    assert(status(s.put("k", "v2", Some(0L))) == 412)
    assert(s.put("k", "v2", Some(1L)).value == "v2")
    assert(status(s.delete("k", Some(1L))) == 412)
    assert(s.get("k").map(_.value).contains("v2"))
  }

  test("limits: key syntax, 64 KiB values, 10,000 keys; a refused change changes nothing") {
    val s = memory()
    Seq("", "a b", "a/b", "é", "x" * 257).foreach(k => assert(status(s.put(k, "v", None)) == 400, k))
    assert(s.put("x" * 256, "v", None).version == 1)
    assert(status(s.put("big", "x" * (64 * 1024 + 1), None)) == 413)
    assert(s.put("big", "x" * (64 * 1024), None).version == 2)
    (3 to DynamicConfStore.MaxKeys).foreach(i => s.put(s"k$i", "v", None))
    assert(s.snapshot.entries.size == DynamicConfStore.MaxKeys)
    val before = s.snapshot
    assert(status(s.put("one-too-many", "v", None)) == 400)
    assert(s.snapshot eq before)
    assert(s.put("k3", "replaced", None).value == "replaced", "changing an existing key is still fine")
  }

  test("the store refuses to grow past its size limit, and shrinking is always allowed") {
    val s = DynamicConfStore.open(Map.empty, None, maxBytes = 2048)
    s.put("a", "x" * 1000, None)
    s.put("b", "x" * 1000, None)
    val before = s.snapshot
    assert(status(s.put("c", "x" * 100, None)) == 413)
    assert(s.snapshot eq before)
    assert(s.put("a", "small", None).value == "small", "a change that makes it smaller is fine")
    assert(s.put("c", "x" * 100, None).version == 4)
  }

  private def session(extra: (String, String)*): SparkSession = {
    val b = SparkSession
      .builder()
      .master("local[1]")
      .config("spark.ui.enabled", "false")
      .config("spark.plugins", "io.github.stopstreaming.StopStreamingPlugin")
      .config("spark.stopstreaming.rest.port", "0")
      .config("spark.hadoop.fs.faulty.impl", classOf[FaultyFileSystem].getName)
    extra.foreach { case (k, v) => b.config(k, v) }
    b.getOrCreate()
  }

  test("values survive a driver restart through the persistence file; conf seeds only what it lacks") {
    val file = Files.createTempDirectory("dynconf").resolve("conf.json")
    val s1 = session("spark.stopstreaming.conf.file" -> file.toString, "spark.stopstreaming.conf.threshold" -> "10")
    try {
      assert(DynamicConf.get("threshold").contains("10"))
      StopStreamingRuntime.plane.get.dynamicConf.put("threshold", "42", None)
      StopStreamingRuntime.plane.get.dynamicConf.put("feature", "on", None)
    } finally s1.stop()
    val s2 = session("spark.stopstreaming.conf.file" -> file.toString, "spark.stopstreaming.conf.threshold" -> "10")
    try {
      assert(DynamicConf.get("threshold").contains("42"), "the file wins over the seed")
      assert(DynamicConf.getOrElse("feature", "off") == "on")
      assert(DynamicConf.version == StopStreamingRuntime.plane.get.dynamicConf.version)
    } finally s2.stop()
    assert(!Files.list(file.getParent).anyMatch(_.getFileName.toString.endsWith(".tmp")), "no temporary file left")
  }

  test("a corrupt persistence file stops the driver from starting, naming the file") {
    val file = Files.createTempDirectory("dynconf").resolve("conf.json")
    Files.write(file, "{ not json".getBytes("UTF-8"))
    val e = intercept[Exception](session("spark.stopstreaming.conf.file" -> file.toString))
    val text = Iterator.iterate[Throwable](e)(_.getCause).takeWhile(_ != null).map(_.getMessage).mkString(" | ")
    assert(text.contains("spark.stopstreaming.conf.file") && text.contains(file.toString), text)
    SparkSession.getActiveSession.foreach(_.stop())
  }

  test("an empty persistence file stops the driver from starting, naming the file and the setting") {
    val dir = Files.createTempDirectory("dynconf")
    val file = dir.resolve("conf.json")
    Files.write(file, Array.emptyByteArray)
    val e = intercept[Exception](session("spark.stopstreaming.conf.file" -> file.toString))
    val message = Iterator.iterate[Throwable](e)(_.getCause).takeWhile(_ != null).map(_.getMessage).mkString(" | ")
    assert(
      message.contains("spark.stopstreaming.conf.file") && message.contains(file.toString) && message.contains("empty")
    )
    SparkSession.getActiveSession.foreach(_.stop())
  }

  test("a write that fails leaves the previous file and the store as they were") {
    FaultyFileSystem.reset()
    val dir = Files.createTempDirectory("dynconf")
    val file = dir.resolve("conf.json")
    val spark = session("spark.stopstreaming.conf.file" -> s"faulty://$file")
    try {
      val store = StopStreamingRuntime.plane.get.dynamicConf
      store.put("mode", "safe", None)
      val saved = new String(Files.readAllBytes(file), "UTF-8")
      FaultyFileSystem.failCreate.set(true)
      val e = intercept[ConfChangeException](store.put("mode", "risky", None))
      assert(Outcomes.confStatus(e.rejection) == 503 && e.getMessage.contains("nothing was changed"))
      FaultyFileSystem.failCreate.set(false)
      assert(store.get("mode").map(_.value).contains("safe"))
      assert(new String(Files.readAllBytes(file), "UTF-8") == saved)
      val reread = new ConfFile(new Path(s"faulty://$file"), spark.sparkContext.hadoopConfiguration).read()
      assert(reread.flatMap(_.entries.get("mode")).map(_.value).contains("safe"))
    } finally {
      FaultyFileSystem.reset()
      spark.stop()
    }
  }
}
