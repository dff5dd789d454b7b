// Scheduled tasks: the task store (validated with croner) and the loop that claims due tasks and hands
// them to the conversation (task-queue.ts, where the two meet). Their admin routes live in http/admin/tasks-routes.ts.
export { listTasks, findTask, getTask, createTask, cancelTask } from "./tasks.ts";
export type { Task, TaskStatus, TaskCreator, TaskScope, ListTasksFilter } from "./tasks.ts";
export { updateTask } from "./tasks.ts";
export { newTaskSchema, newTaskShape, taskPatchSchema } from "./tasks.ts";
export type { NewTaskInput, TaskPatch } from "./tasks.ts";
export { MAX_PROMPT_BYTES, isKnownTimezone, nextSlotAfter } from "./schedule.ts";
export { onTasksChanged, signalTasksChanged } from "./tasks.ts";
export { createScheduler } from "./loop.ts";
export type { Scheduler, SchedulerOptions } from "./loop.ts";
export type { SchedulerDeps, TaskRunResult } from "./task-runs.ts";
export { conversationTaskDeps } from "./task-queue.ts";
export type { ConversationQueue, TaskInput } from "./task-queue.ts";
