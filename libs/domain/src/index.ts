export * from './conversation/conversation.decider';
export * from './conversation/conversation.state';
export * from './decision';
export * from './read-state';
export * from './user/user.decider';
export * from './snapshot';
