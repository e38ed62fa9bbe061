package io.github.stopstreaming.python

/** The failures the Python facade throws on purpose. Python maps each class, by name, to its own exception
  * (`stopstreaming.errors`), keeping the Java exception as the cause.
  */
class FacadeException(message: String) extends RuntimeException(message)

/** No query has the id or name. */
final class QueryNotFoundException(message: String) extends FacadeException(message)

/** Several running queries have the name (in different sessions). */
final class AmbiguousQueryException(message: String) extends FacadeException(message)

/** An argument cannot be used (a bad mode, duration, port or path). */
final class InvalidArgumentException(message: String) extends FacadeException(message)

/** The control plane does not run in this driver. */
final class NotRunningException(message: String) extends FacadeException(message)

/** A pause, resume or restart of a managed query that is finished for good (STOPPED, FAILED). */
final class LifecycleConflictException(message: String) extends FacadeException(message)

/** A cancel found no pending stop (none asked, or a stop already under way). */
final class NothingPendingException(message: String) extends FacadeException(message)
