// Scheduled tasks: the task store (validated with croner) and the loop that claims due tasks and hands
// them to the conversation (task-queue.ts, where the two meet). Their admin routes live in http/admin/tasks-routes.ts.

export { createScheduler } from "./loop.ts";
export { conversationTaskDeps } from "./task-queue.ts";
export type { Task, TaskStatus } from "./tasks.ts";
export { cancelTask, createTask, getTask, listTasks, newTaskShape, taskPatchSchema, updateTask } from "./tasks.ts";
