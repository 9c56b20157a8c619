export * from './gateway-usage';
export * from './prometheus';
